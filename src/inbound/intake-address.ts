import type { Config } from "../config.js";
import { purposeMac } from "../ids.js";

/**
 * The Reply-To of mail about a report filed by email, while it is unclaimed:
 * the intake address with a token of the report's own. The token is derived
 * (HMAC under a key from SESSION_SECRET), so every mail to the sender can
 * carry it while the database keeps only its hash.
 */
export function intakeReplyToken(
  config: Pick<Config, "sessionSecret">,
  reportId: number,
): string {
  return purposeMac(
    config.sessionSecret,
    "disclosure-desk intake reply v1",
    String(reportId),
  ).slice(0, 32);
}

export function intakeReplyAddress(
  config: Pick<Config, "sessionSecret" | "reportAddress">,
  reportId: number,
): string {
  const [local, domain] = config.reportAddress.split("@") as [string, string];
  return `${local}+${intakeReplyToken(config, reportId)}@${domain}`;
}

/**
 * The intake token as a Message-ID-like reference, for mail servers that
 * drop the `+token` from the address: a reply keeps it in References.
 */
export function intakeReference(replyTo: string): string | null {
  const m = /^[^+@]+\+([a-f0-9]{32})@([^@]+)$/i.exec(replyTo);
  return m ? `<intake.${m[1]!.toLowerCase()}@${m[2]!.toLowerCase()}>` : null;
}

/** The intake token a reply names in In-Reply-To or References, if any. */
export function intakeTokenIn(
  config: Pick<Config, "reportAddress">,
  headers: Record<string, string>,
): string | null {
  const domain = config.reportAddress.split("@")[1]!;
  const text = `${headers["in-reply-to"] ?? ""} ${headers["references"] ?? ""}`;
  for (const m of text.matchAll(/<intake\.([a-f0-9]{32})@([^>\s]+)>/gi))
    if (m[2]!.toLowerCase() === domain) return m[1]!.toLowerCase();
  return null;
}
