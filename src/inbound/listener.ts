import type { AddressInfo } from "node:net";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import { ingestMail, type IngestDeps } from "./ingest.js";
import { isTransientError } from "./receive.js";
import { isOurAddress } from "./reply-tokens.js";

/**
 * The SMTP (or LMTP) listener an MTA such as Postfix hands the desk's mail
 * to: on INBOUND_SMTP_PORT, bound to INBOUND_SMTP_HOST (loopback by
 * default). No authentication and no STARTTLS: it is meant for the local
 * MTA, which does TLS and spam filtering facing the world. Every message
 * goes to the one ingestion path (ingest.ts).
 *
 * Answers: 552 for a message over INBOUND_MAX_BYTES (at MAIL FROM when
 * SIZE= says so, else after the data); 550 at RCPT for an address outside
 * MAIL_DOMAIN; 554 for mail that is not readable MIME (kept, held); 451
 * when the database is busy or unavailable (the MTA tries again later);
 * 250 for everything accepted — posted, held for a triager, ignored, or a
 * redelivery of a message already received.
 */
export interface InboundListener {
  port: number;
  close(): Promise<void>;
}

const smtpError = (code: number, message: string) =>
  Object.assign(new Error(message), { responseCode: code });

export async function startInboundListener(
  deps: IngestDeps,
  options: { port?: number; host?: string } = {},
): Promise<InboundListener> {
  const { inbound } = deps.config;
  const serverOptions: SMTPServerOptions = {
    lmtp: inbound.lmtp,
    name: deps.config.mailDomain,
    banner: "Disclosure Desk",
    size: inbound.maxBytes,
    rejectOversized: true,
    authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (!isOurAddress(deps.config, address.address))
        return callback(
          smtpError(550, `5.1.1 <${address.address}>: not a recipient here`),
        );
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on("data", (chunk: Buffer) => {
        size += chunk.length;
        // Over the limit: read on (the client is still sending), keep nothing.
        if (size <= inbound.maxBytes) chunks.push(chunk);
      });
      stream.on("error", (err) => callback(err));
      stream.on("end", () => {
        if (stream.sizeExceeded) return callback(); // rejectOversized answers 552
        const raw = Buffer.concat(chunks);
        const mailFrom = session.envelope.mailFrom;
        ingestMail(deps, raw, {
          from: mailFrom ? mailFrom.address : "",
          recipients: session.envelope.rcptTo.map((r) => r.address),
          clientIp: session.remoteAddress,
          helo: session.hostNameAppearsAs,
        }).then(
          (result) => {
            if (result.malformed && !result.duplicate)
              return callback(
                smtpError(
                  554,
                  `5.6.0 not a readable message: ${result.malformed}`,
                ),
              );
            const outcome = result.outcome;
            callback(
              null,
              `OK ${result.duplicate ? "already received" : outcome.kind}`,
            );
          },
          (error: unknown) => {
            deps.logger.warn({ err: error }, "inbound mail not stored");
            callback(
              smtpError(
                451,
                isTransientError(error)
                  ? "4.3.0 busy, try again later"
                  : "4.3.0 could not store the message, try again later",
              ),
            );
          },
        );
      });
    },
  };
  const server = new SMTPServer(serverOptions);
  server.on("error", (err) =>
    deps.logger.warn({ err }, "inbound mail connection error"),
  );
  await new Promise<void>((resolve, reject) => {
    server.server.once("error", reject);
    server.listen(
      options.port ?? inbound.smtpPort ?? 0,
      options.host ?? inbound.smtpHost,
      () => {
        server.server.removeListener("error", reject);
        resolve();
      },
    );
  });
  const port = (server.server.address() as AddressInfo).port;
  deps.logger.info(
    `Receiving mail (${inbound.lmtp ? "LMTP" : "SMTP"}) on ${options.host ?? inbound.smtpHost}:${port} for ${deps.config.mailDomain}`,
  );
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
