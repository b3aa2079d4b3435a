/**
 * Encrypted mail about a report: for a recipient with a usable OpenPGP key,
 * the worker sends, instead of the link-only message, one encrypted to them
 * and signed by the desk that also carries what plain mail leaves out: the
 * text of the timeline entry it announces (the comment, the question asked,
 * the reason for a state change) and the running deadlines. That content is
 * read here, at delivery time, from the entry the outbox row names, under
 * the policy for this recipient now: the outbox never holds it in clear.
 */
import { canReadEvent, readableEvents, relationTo } from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { runningDeadlines } from "../reports/page.js";
import { findEventById, findReportById } from "../reports/repository.js";
import { accessFacts } from "../reports/types.js";
import { STATE_INFO } from "../reports/workflow.js";
import { findPgpKey } from "../users/pgp-key-repository.js";
import { findUserById } from "../users/repository.js";
import { toActor } from "../users/service.js";
import type { User } from "../users/types.js";
import { deskKey } from "./desk-key.js";
import { checkPublicKey, encryptAndSign } from "./pgp.js";
import { textEntity } from "./pgp-mime.js";
import type { OutboxMessage } from "./repository.js";

type SealDeps = Pick<Deps, "db" | "config" | "clock" | "settings">;

/** What the entry's text is, in the mail's words. */
function headingFor(kind: string, action: string | null): string {
  if (kind === "comment") return "The comment";
  if (action === "request_info") return "The question asked";
  if (
    kind === "transition" ||
    kind === "deadline" ||
    kind === "disclosure_request"
  )
    return "The reason given";
  return "What was written";
}

/** The part of the mail only the recipient's key opens; empty when there is nothing they may read. */
async function reportDetails(
  deps: SealDeps,
  user: User,
  message: OutboxMessage,
): Promise<string> {
  const report = await findReportById(deps.db, message.reportId!);
  if (!report) return "";
  const relation = relationTo(toActor(user), accessFacts(report));
  if (relation === "none") return "";
  const lines: string[] = [];
  const event = message.eventId
    ? await findEventById(deps.db, message.eventId)
    : undefined;
  if (
    event &&
    event.reportId === report.id &&
    canReadEvent(readableEvents(toActor(user), accessFacts(report)), event)
  ) {
    if (event.fromState && event.toState)
      lines.push(
        `State: ${STATE_INFO[event.fromState].label} -> ${STATE_INFO[event.toState].label}`,
        "",
      );
    if (event.body)
      lines.push(
        `${headingFor(event.kind, event.action)}:`,
        "",
        event.body,
        "",
      );
  }
  const deadlines = runningDeadlines(
    relation,
    report,
    deps.settings.clocks(),
    deps.clock.now(),
  );
  if (deadlines.length > 0)
    lines.push(
      "Deadlines:",
      ...deadlines.map((d) => `- ${d.text} (${d.at})`),
      "",
    );
  return lines.length === 0
    ? ""
    : [
        "Encrypted to your key: only you can read this message.",
        "",
        ...lines,
        "-".repeat(60),
        "",
      ].join("\n");
}

/**
 * The armored OpenPGP message to send instead of `message`, or null: sent
 * as it is (no key, a key no longer usable for the address, not report mail).
 * Account mail (password links) is never encrypted: a lost key must not
 * lock anybody out.
 */
export async function sealedVersion(
  deps: SealDeps,
  message: OutboxMessage,
): Promise<string | null> {
  if (message.toUserId === null || message.reportId === null) return null;
  const user = await findUserById(deps.db, message.toUserId);
  // Mail written before an address change goes where it was addressed, plain.
  if (!user || user.email.toLowerCase() !== message.toAddress.toLowerCase())
    return null;
  const stored = await findPgpKey(deps.db, user.id);
  if (!stored) return null;
  const now = deps.clock.now();
  const check = await checkPublicKey(stored.armored, user.email, now);
  if (!check.ok) return null;
  const text = (await reportDetails(deps, user, message)) + message.text;
  const desk = await deskKey(deps.config);
  return encryptAndSign(textEntity(text), check.key, desk.privateKey, now);
}
