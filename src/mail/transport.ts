import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { connect, type Socket } from "node:net";
import nodemailer from "nodemailer";
import type { Logger } from "pino";
import { mailFromAddress, type Config } from "../config.js";
import { pgpMimeMessage } from "./pgp-mime.js";

export interface OutgoingMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  inReplyTo?: string;
  references?: string;
  /** Where a reply goes: the recipient's reply address for the report (src/inbound/reply-tokens.ts). */
  replyTo?: string;
  /** An armored OpenPGP message: sent as PGP/MIME instead of text and html. */
  encrypted?: string;
  /** The envelope sender (MAIL FROM): the message's VERP address (verp.ts). */
  envelopeFrom?: string;
}

/** Sends one message; resolves with the server's answer, rejects on failure. */
export interface MailTransport {
  send(message: OutgoingMessage): Promise<string>;
  /** Nothing more to send for now: let go of any open connection. */
  idle?(): void;
  close(): void;
}

/** The header on everything the desk sends; mail that carries it back is ignored (src/inbound/automatic.ts). */
export const LOOP_HEADER = "X-Disclosure-Desk-Loop";

function automatic(loop: string) {
  return {
    "Auto-Submitted": "auto-generated",
    "X-Auto-Response-Suppress": "All",
    [LOOP_HEADER]: loop,
  };
}

async function envelope(message: OutgoingMessage, loop: string) {
  const AUTOMATIC = automatic(loop);
  const { envelopeFrom, ...rest } = message;
  const smtpEnvelope = {
    from: envelopeFrom ?? mailFromAddress(message.from),
    to: message.to,
  };
  if (!message.encrypted)
    return { ...rest, envelope: smtpEnvelope, headers: AUTOMATIC };
  // nodemailer composes no multipart/encrypted: the message is built here
  // and handed over whole (DKIM still signs it).
  const headers: Record<string, string> = {
    From: message.from,
    To: message.to,
    Subject: message.subject,
    "Message-ID": message.messageId,
    ...(message.inReplyTo && { "In-Reply-To": message.inReplyTo }),
    ...(message.references && { References: message.references }),
    ...(message.replyTo && { "Reply-To": message.replyTo }),
    ...AUTOMATIC,
  };
  return {
    envelope: smtpEnvelope,
    raw: await pgpMimeMessage(headers, message.encrypted),
  };
}

/**
 * The connection is kept open between the messages of a worker run (a pool
 * of one: the worker sends one at a time; `idle()` closes it when the outbox
 * is empty) instead of a new TCP and SMTP handshake per message,
 * and its socket has Nagle's algorithm off: nodemailer writes a message and
 * its final "." separately, and waiting for the server's delayed ACK of the
 * first cost about 40 ms per message in the benchmark. nodemailer is handed
 * the connected socket and does the rest (TLS for smtps://, STARTTLS).
 */
export function smtpOptions(url: string, dkim: Config["dkim"] = null) {
  const options = {
    ...nodemailer.createTransport(url).options,
    pool: true,
    maxConnections: 1,
    ...(dkim && { dkim }),
  } as Record<string, unknown>;
  options.getSocket = (
    target: { host?: string; port?: number; secure?: boolean },
    callback: (
      err: Error | null,
      socketOptions?: { connection: Socket },
    ) => void,
  ) => {
    // The same defaults as nodemailer's own connection.
    const port = Number(target.port) || (target.secure ? 465 : 587);
    const socket = connect({ host: target.host ?? "localhost", port });
    socket.setNoDelay(true);
    socket.setTimeout(CONNECT_TIMEOUT_MS, () =>
      socket.destroy(new Error("SMTP connection timed out")),
    );
    const failed = (err: Error) => callback(err);
    socket.once("error", failed);
    socket.once("connect", () => {
      socket.setTimeout(0);
      socket.removeListener("error", failed);
      callback(null, { connection: socket });
    });
  };
  return options;
}

const CONNECT_TIMEOUT_MS = 30_000;

/**
 * SMTP_URL (smtp:// with STARTTLS when offered, smtps:// for TLS, credentials
 * in the URL) in production; without it, each message is written as an .eml
 * file under DATA_DIR/mail/ so the app runs with no mail server at all.
 */
export function createTransport(config: Config, logger: Logger): MailTransport {
  if (config.smtpUrl) {
    const options = smtpOptions(config.smtpUrl, config.dkim);
    // Opened by the first message of a run, closed when the run ends.
    let smtp: ReturnType<typeof nodemailer.createTransport> | null = null;
    const close = () => {
      smtp?.close();
      smtp = null;
    };
    return {
      async send(message) {
        smtp ??= nodemailer.createTransport(options);
        const info = await smtp.sendMail(
          await envelope(message, config.mailDomain),
        );
        return String(info.response ?? "sent");
      },
      idle: close,
      close,
    };
  }
  const dir = path.join(config.dataDir, "mail");
  mkdirSync(dir, { recursive: true });
  const stream = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: "unix",
    ...(config.dkim && { dkim: config.dkim }),
  });
  return {
    async send(message) {
      const info = await stream.sendMail(
        await envelope(message, config.mailDomain),
      );
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
