import { timingSafeEqual } from "node:crypto";
import type { Config } from "../config.js";
import { purposeMac } from "../ids.js";

/**
 * VERP: every outgoing message leaves with its own envelope sender,
 * `bounce+<outbox id>-<mac>@MAIL_DOMAIN`, so a delivery report names the
 * message it is about even when the remote server quotes nothing of it. The
 * MAC (HMAC-SHA256 under a key derived from SESSION_SECRET, 64 bits, lower
 * case: some servers fold the local part) makes the address unforgeable: a
 * stranger cannot mark someone else's mail bounced.
 */
const PREFIX = "bounce";
const MAC_CHARS = 16;

function mac(config: Pick<Config, "sessionSecret">, outboxId: number): string {
  return purposeMac(
    config.sessionSecret,
    "disclosure-desk verp v1",
    String(outboxId),
  ).slice(0, MAC_CHARS);
}

/** The envelope sender for one outbox message. */
export function verpAddress(
  config: Pick<Config, "sessionSecret" | "mailDomain">,
  outboxId: number,
): string {
  return `${PREFIX}+${outboxId}-${mac(config, outboxId)}@${config.mailDomain}`;
}

/** Whether an address has the shape of one of ours (forged or not). */
export function looksLikeVerp(
  config: Pick<Config, "mailDomain">,
  address: string,
): boolean {
  return parseVerp(config, address) !== null;
}

function parseVerp(
  config: Pick<Config, "mailDomain">,
  address: string,
): { id: number; mac: string } | null {
  const at = address.lastIndexOf("@");
  if (at < 0) return null;
  if (address.slice(at + 1).toLowerCase() !== config.mailDomain) return null;
  const m = /^bounce\+(\d{1,15})-([0-9a-f]{1,64})$/i.exec(address.slice(0, at));
  if (!m) return null;
  return { id: Number(m[1]), mac: m[2]!.toLowerCase() };
}

export type VerpCheck =
  { ok: true; outboxId: number } | { ok: false; reason: string };

/** The outbox message a VERP address stands for, if its MAC is ours. */
export function checkVerp(
  config: Pick<Config, "sessionSecret" | "mailDomain">,
  address: string,
): VerpCheck {
  const parsed = parseVerp(config, address);
  if (!parsed) return { ok: false, reason: "not a bounce address" };
  const expected = Buffer.from(mac(config, parsed.id));
  const given = Buffer.from(parsed.mac);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: "forged bounce address (bad signature)" };
  return { ok: true, outboxId: parsed.id };
}
