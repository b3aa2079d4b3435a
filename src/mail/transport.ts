import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import nodemailer from "nodemailer";
import type { Logger } from "pino";
import type { Config } from "../config.js";

export interface OutgoingMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  inReplyTo?: string;
  references?: string;
}

/** Sends one message; resolves with the server's answer, rejects on failure. */
export interface MailTransport {
  send(message: OutgoingMessage): Promise<string>;
  close(): void;
}

function envelope(message: OutgoingMessage) {
  return {
    ...message,
    headers: {
      "Auto-Submitted": "auto-generated",
      "X-Auto-Response-Suppress": "All",
    },
  };
}

/**
 * SMTP_URL (smtp:// with STARTTLS when offered, smtps:// for TLS, credentials
 * in the URL) in production; without it, each message is written as an .eml
 * file under DATA_DIR/mail/ so the app runs with no mail server at all.
 */
export function createTransport(config: Config, logger: Logger): MailTransport {
  if (config.smtpUrl) {
    const smtp = nodemailer.createTransport(config.smtpUrl);
    return {
      async send(message) {
        const info = await smtp.sendMail(envelope(message));
        return String(info.response ?? "sent");
      },
      close: () => smtp.close(),
    };
  }
  const dir = path.join(config.dataDir, "mail");
  mkdirSync(dir, { recursive: true });
  const stream = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: "unix",
  });
  return {
    async send(message) {
      const info = await stream.sendMail(envelope(message));
      const safeId = message.messageId
        .replace(/[^A-Za-z0-9.-]/g, "_")
        .slice(0, 80);
      const file = path.join(dir, `${Date.now()}-${safeId}.eml`);
      writeFileSync(file, info.message as Buffer);
      logger.info(
        { file, to: message.to },
        "mail written to disk (no SMTP_URL set)",
      );
      return `written to ${file}`;
    },
    close: () => stream.close(),
  };
}
