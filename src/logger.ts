import { pino, type Logger } from "pino";

export function createLogger(level: string): Logger {
  return pino({
    level,
    // Never log secrets that might ride along on a request.
    redact: [
      "req.headers.cookie",
      "password",
      "token",
      "*.password",
      "*.token",
    ],
  });
}
