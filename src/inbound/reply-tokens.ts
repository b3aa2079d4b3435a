import { createHmac } from "node:crypto";
import type { Config } from "../config.js";
import type { DbOrTx } from "../db/index.js";
import { sha256Hex } from "../ids.js";
import { findReplyToken, insertReplyToken } from "./repository.js";

/**
 * Every notification about a report carries, in Reply-To, an address with a
 * token for one recipient and one report: `reply+<token>@MAIL_DOMAIN`. The
 * token is 130 bits, derived from the session secret (so the same pair gets
 * the same token in every message and after a restart, with nothing secret
 * stored), and only its SHA-256 is kept in reply_tokens, which is what a
 * reply is looked up by. It also rides in References as
 * `<reply-<token>@MAIL_DOMAIN>`, for servers that drop sub-addresses.
 */

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
export const TOKEN_LENGTH = 26;
const TOKEN = /^[a-z2-7]{26}$/;

function base32(bytes: Buffer, length: number): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

export function deriveReplyToken(
  secret: string,
  userId: number,
  reportId: number,
): string {
  const mac = createHmac("sha256", secret)
    .update(`reply-token\0${userId}\0${reportId}`)
    .digest();
  return base32(mac, TOKEN_LENGTH);
}

export interface ReplyAddressing {
  /** For Reply-To. */
  address: string;
  /** A message ID for References / In-Reply-To, with angle brackets. */
  reference: string;
}

/** The reply address of (user, report), storing the token's hash the first time. */
export async function replyAddressing(
  db: DbOrTx,
  config: Config,
  userId: number,
  reportId: number,
  now: Date,
): Promise<ReplyAddressing> {
  const token = deriveReplyToken(config.sessionSecret, userId, reportId);
  const tokenHash = sha256Hex(token);
  if (!(await findReplyToken(db, tokenHash)))
    await insertReplyToken(db, { tokenHash, userId, reportId, at: now }).catch(
      async (error: unknown) => {
        // Another delivery stored it a moment ago: that is the same token.
        if (!(await findReplyToken(db, tokenHash))) throw error;
      },
    );
  const { mailDomain } = config;
  const { replyLocalPart } = config.inbound;
  return {
    address: `${replyLocalPart}+${token}@${mailDomain}`,
    reference: `<reply-${token}@${mailDomain}>`,
  };
}

/**
 * The tokens a message names: in a recipient address `<local>+<token>@domain`
 * for our domain, else in References / In-Reply-To as `reply-<token>@domain`.
 * Recipients first: they are what the sender's server routed by.
 */
export function tokensIn(
  config: Config,
  recipients: readonly string[],
  headers: Record<string, string>,
): string[] {
  const { mailDomain } = config;
  const { replyLocalPart } = config.inbound;
  const found: string[] = [];
  for (const recipient of recipients) {
    const at = recipient.lastIndexOf("@");
    if (at < 0 || recipient.slice(at + 1).toLowerCase() !== mailDomain)
      continue;
    const local = recipient.slice(0, at).toLowerCase();
    const plus = local.indexOf("+");
    if (plus < 0 || local.slice(0, plus) !== replyLocalPart) continue;
    const token = local.slice(plus + 1);
    if (TOKEN.test(token)) found.push(token);
  }
  const ids = `${headers["in-reply-to"] ?? ""} ${headers["references"] ?? ""}`;
  // Long References headers are only scanned, never backtracked over.
  for (const match of ids.matchAll(
    /<reply-([a-z2-7]{26})@([^>\s]{1,255})>/gi,
  )) {
    if (match[2]!.toLowerCase() === mailDomain)
      found.push(match[1]!.toLowerCase());
  }
  return [...new Set(found)];
}

/** The user and report a token belongs to, if it is one the desk issued. */
export async function lookUpReplyToken(
  db: DbOrTx,
  token: string,
): Promise<{ userId: number; reportId: number } | undefined> {
  if (!TOKEN.test(token)) return undefined;
  return findReplyToken(db, sha256Hex(token));
}

/** Whether an address is one the desk receives mail for. */
export function isOurAddress(config: Config, address: string): boolean {
  const at = address.lastIndexOf("@");
  return at > 0 && address.slice(at + 1).toLowerCase() === config.mailDomain;
}
