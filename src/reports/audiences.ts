/**
 * Who reads a message, in words, and the choices a comment form offers:
 * exactly policy.ts writableAudiences, each named by who will read it. Pure
 * (no I/O): the organizations' names come from the caller.
 *
 * A choice travels on the form as one value, the audience and, for one
 * organization, that organization's public ID ("org_researcher:ORG-…"):
 * never a row ID, and the service takes only a value it offered
 * (resolveAudience), so a forged audience or organization is refused.
 */
import {
  relationTo,
  standsFor,
  writableAudiences,
  type Actor,
  type ReportAccessFacts,
} from "../auth/policy.js";
import type { Relation } from "../auth/policy.js";
import type { EventAudience } from "./types.js";

/** An organization on the case, as the words need it. */
export interface AudienceOrg {
  id: number;
  publicId: string;
  name: string;
}

export interface AudienceChoice {
  /** The form's value. */
  value: string;
  /** Who will read it, in words. */
  label: string;
  audience: EventAudience;
  orgId: number | null;
}

/** The entry's audience as recordChange takes it. */
export interface ChosenAudience {
  audience: EventAudience;
  orgId: number | null;
}

export const AUDIENCE_REFUSED =
  "Choose who will read your comment from the choices on the form.";

/**
 * Who reads an entry, in words, as `relation` sees it: the researcher is
 * "you" to themselves, the CERT and the researcher is "Only the CERT".
 */
export function audienceWords(
  audience: EventAudience,
  orgName: string | null,
  relation: Relation,
): string {
  const org = orgName ?? "one organization";
  const researcher = relation === "reporter" ? "you" : "the researcher";
  switch (audience) {
    case "internal":
      return "Internal note: CERT staff only";
    case "researcher":
      return relation === "reporter"
        ? "Only the CERT"
        : "The CERT and the researcher";
    case "org":
      return `The CERT and ${org}`;
    case "org_researcher":
      return `The CERT, ${researcher} and ${org}`;
    case "everyone":
      return "Everyone on the case";
  }
}

/**
 * The comment form's choices: writableAudiences, one per organization where
 * the audience names one, in words. "Internal" is not among them: an
 * internal note has its own form (never mailed, kind "note").
 */
export function audienceChoices(
  actor: Actor,
  facts: ReportAccessFacts,
  orgs: readonly AudienceOrg[],
): AudienceChoice[] {
  const relation = relationTo(actor, facts);
  const byId = new Map(orgs.map((o) => [o.id, o]));
  const choices: AudienceChoice[] = [];
  for (const { audience, orgIds } of writableAudiences(actor, facts)) {
    if (audience === "internal") continue;
    if (audience === "org" || audience === "org_researcher") {
      for (const id of orgIds) {
        const org = byId.get(id);
        if (!org) continue;
        choices.push({
          value: `${audience}:${org.publicId}`,
          label: audienceWords(audience, org.name, relation),
          audience,
          orgId: id,
        });
      }
    } else
      choices.push({
        value: audience,
        label: audienceWords(audience, null, relation),
        audience,
        orgId: null,
      });
  }
  return choices;
}

/** The choice a form sent, only if it was offered. */
export function resolveAudience(
  value: string,
  choices: readonly AudienceChoice[],
): ChosenAudience | undefined {
  const choice = choices.find((c) => c.value === value);
  return choice && { audience: choice.audience, orgId: choice.orgId };
}

/**
 * The audience of a comment written without a choice (a reply by email, the
 * API, a form of before): undefined keeps the rule insertEvent applies
 * (between the researcher and the CERT until the organization is notified,
 * then everyone), except on a case with several organizations notified,
 * where it stays between the researcher and the CERT, and for an
 * organization's contact: its message goes to
 * the CERT, the researcher and its own organization (the first on the case
 * it stands for), never to everyone. On a case with several organizations
 * "everyone" would show one organization's words to the others, and even
 * with one, to an organization added later. A contact who wants everyone
 * to read it chooses so on the form, once the case is open.
 */
export function defaultAudience(
  actor: Actor,
  facts: ReportAccessFacts,
): ChosenAudience | undefined {
  const relation = relationTo(actor, facts);
  if (relation !== "org_contact") {
    // Several organizations notified: nobody's words reach all of them
    // without a choice (a researcher's reply by mail stays with the CERT,
    // which shares it with the organization it concerns).
    const notified = facts.participants.filter((p) => p.notifiedAt !== null);
    return notified.length > 1
      ? { audience: "researcher", orgId: null }
      : undefined;
  }
  const own = standsFor(actor, facts);
  return own.length > 0
    ? { audience: "org_researcher", orgId: own[0]! }
    : undefined;
}

/**
 * The choice the form starts on: for an organization, its own thread with
 * the CERT and the researcher; for the researcher and the CERT, what a
 * comment without a choice would be written to, where the form offers it.
 */
export function defaultChoice(
  actor: Actor,
  facts: ReportAccessFacts,
  choices: readonly AudienceChoice[],
  vendorNotified: boolean,
): string {
  const chosen = defaultAudience(actor, facts);
  const wanted: ChosenAudience = chosen ?? {
    audience: vendorNotified ? "everyone" : "researcher",
    orgId: null,
  };
  const match = choices.find(
    (c) => c.audience === wanted.audience && c.orgId === wanted.orgId,
  );
  if (match) return match.value;
  // The researcher after the notice: their own thread with the CERT and
  // the one organization, when there is only one; else only the CERT.
  const oneOrg = choices.filter((c) => c.audience === "org_researcher");
  if (oneOrg.length === 1) return oneOrg[0]!.value;
  return choices[0]?.value ?? "";
}
