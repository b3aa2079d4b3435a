/**
 * Mail received by the desk, as every inbound channel (the SMTP/LMTP
 * listener, `mail:receive` on standard input) hands it to the one ingestion
 * path, and what that path decided. Handlers (replies, delivery reports,
 * reports by email) take an InboundMail and answer an InboundOutcome; the
 * ingestion path records both, so no message is ever lost.
 */

export interface InboundAttachment {
  filename: string;
  /** As the sender declared it; the upload checks decide by content. */
  contentType: string;
  content: Buffer;
}

export interface InboundMail {
  /** The Message-ID header without angle brackets; ingestion is idempotent by it. */
  messageId: string;
  /** The envelope: MAIL FROM (empty for bounces) and the RCPT TO addresses, lowercased. */
  envelopeFrom: string;
  recipients: string[];
  /** The From header's address, lowercased, and its display name. */
  from: string;
  fromName: string | null;
  subject: string;
  /** The plain-text body (from HTML by conversion when there is no text part), before quote stripping. */
  text: string;
  attachments: InboundAttachment[];
  /** Header names lowercased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The message as received, kept for staff. */
  raw: Buffer;
  /** Set when the message was OpenPGP-encrypted to the desk and decrypted. */
  encrypted: boolean;
  /** The fingerprint of the sender's key whose signature verified, if any. */
  signedBy: string | null;
  /** The DMARC result for the From domain (mailauth), "none" when there is no policy. */
  dmarc: "pass" | "fail" | "none" | "temperror" | "permerror";
}

export type InboundOutcome =
  /** Posted to a report (a comment, a new report, a bounce recorded on the outbox). */
  | { kind: "posted"; reportId: number | null; note: string }
  /** Kept for a triager to release or discard, with the reason shown on the Inbound mail page. */
  | { kind: "held"; reason: string }
  /** Recorded, never posted and never answered (auto-replies, our own mail looping back). */
  | { kind: "ignored"; reason: string };
