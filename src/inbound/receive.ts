import type { Readable } from "node:stream";
import { isDatabaseBusy } from "../db/dialect.js";
import type { IngestDeps, IngestResult } from "./ingest.js";
import { ingestMail } from "./ingest.js";

/**
 * `mail:receive`: one message on standard input, as an MTA's pipe hands it
 * over, answered with the exit codes MTAs understand (sysexits.h, as
 * rt-mailgate does): 0 accepted (posted, held, ignored, or a redelivery),
 * 65 not a readable message, 67 unknown recipient or token, 75 try again
 * later (the database is busy or unavailable; the MTA keeps the message).
 */
export const EXIT = {
  accepted: 0,
  malformed: 65,
  unknownRecipient: 67,
  tryAgainLater: 75,
} as const;

export function exitCodeFor(result: IngestResult): number {
  if (result.duplicate) return EXIT.accepted;
  if (result.malformed) return EXIT.malformed;
  if (result.unknownRecipient) return EXIT.unknownRecipient;
  return EXIT.accepted;
}

/** Errors that pass: a busy or locked database, one that cannot be reached now, a full disk. */
export function isTransientError(error: unknown): boolean {
  return isDatabaseBusy(error);
}

/** Reads a stream whole, refusing more than `maxBytes`. */
export async function readAll(
  input: Readable,
  maxBytes: number,
): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    size += buffer.length;
    if (size > maxBytes) return null;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Postfix's pipe with `flags=F` puts an mbox "From sender date" line before
 * the message: it is the envelope, not a header, and is dropped.
 */
export function withoutEnvelopeLine(raw: Buffer): Buffer {
  if (raw.subarray(0, 5).toString("latin1") !== "From ") return raw;
  const end = raw.indexOf("\n");
  return end < 0 ? raw : raw.subarray(end + 1);
}

/** The header value of the first `name:` line in a raw message's header section. */
export function rawHeader(raw: Buffer, name: string): string | null {
  const end =
    raw.indexOf("\r\n\r\n") >= 0
      ? raw.indexOf("\r\n\r\n")
      : raw.indexOf("\n\n");
  const head = raw
    .subarray(0, end < 0 ? Math.min(raw.length, 65_536) : end)
    .toString("latin1")
    .replace(/\r?\n[ \t]+/g, " ");
  const match = new RegExp(`^${name}:[ \\t]*(.*)$`, "im").exec(head);
  return match ? match[1]!.trim() : null;
}

const addressIn = (value: string | null) =>
  value ? (/<([^>]*)>/.exec(value)?.[1] ?? value).trim() : null;

/**
 * The envelope of a piped message: the sender and recipient the MTA passes
 * (arguments, or Postfix's SENDER and ORIGINAL_RECIPIENT), else what the
 * headers say (Return-Path, To).
 */
export function pipedEnvelope(
  raw: Buffer,
  given: { sender?: string; recipient?: string },
  env: NodeJS.ProcessEnv,
): { from: string; recipients: string[] } {
  const sender =
    given.sender ??
    env.SENDER ??
    addressIn(rawHeader(raw, "Return-Path")) ??
    addressIn(rawHeader(raw, "From")) ??
    "";
  const recipient =
    given.recipient ??
    env.ORIGINAL_RECIPIENT ??
    env.RECIPIENT ??
    addressIn(rawHeader(raw, "Delivered-To")) ??
    addressIn(rawHeader(raw, "To"));
  return {
    from: sender,
    recipients: recipient
      ? recipient
          .split(",")
          .map((r) => r.trim())
          .filter(Boolean)
      : [],
  };
}

export interface ReceiveOutput {
  log(message: string): void;
  error(message: string): void;
}

/** Receives one piped message; answers the exit code. */
export async function receivePipedMail(
  deps: IngestDeps,
  raw: Buffer,
  envelope: { from: string; recipients: string[] },
  out: ReceiveOutput,
): Promise<number> {
  let result: IngestResult;
  try {
    result = await ingestMail(deps, raw, envelope);
  } catch (error) {
    out.error(`try again later: ${(error as Error).message}`);
    return EXIT.tryAgainLater;
  }
  const code = exitCodeFor(result);
  const what =
    result.outcome.kind === "posted"
      ? result.outcome.note
      : result.outcome.reason;
  const line = `${result.duplicate ? "duplicate, " : ""}${result.outcome.kind}: ${what}`;
  if (code === EXIT.accepted) out.log(line);
  else out.error(line);
  return code;
}
