import type { AuditRequestContext } from "../audit/types.js";
import { can, relationTo, type Actor } from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import type { Outcome, Refusal } from "../http/validation.js";
import { renderMarkdown } from "../markdown.js";
import { recordChange } from "./changes.js";
import type { SubmissionEditInput } from "./forms.js";
import { shownFileName } from "./attachments.js";
import {
  insertRevision,
  listAttachments,
  listRevisions,
  updateSubmission,
  type SubmissionText,
} from "./repository.js";
import { accessFacts, type Report } from "./types.js";

/*
 * Until a triager acknowledges it, the researcher may correct what they
 * filed: title, asset and text (files are added on the report page). Each
 * edit is on the timeline; the version it replaced is kept for CERT staff.
 */

export const EDIT_CLOSED =
  "A CERT triager has acknowledged this report, so it can no longer be edited: they read it as it was. Add what changed as a comment on the report instead; your text is still here to copy.";

const FIELDS: { key: keyof SubmissionText; label: string }[] = [
  { key: "title", label: "title" },
  { key: "asset", label: "affected asset" },
  { key: "description", label: "description" },
  { key: "steps", label: "steps to reproduce" },
  { key: "impact", label: "impact" },
];

const textOf = (r: SubmissionText): SubmissionText => ({
  title: r.title,
  asset: r.asset,
  description: r.description,
  steps: r.steps,
  impact: r.impact,
});

/**
 * The reporter may see their report but the edit is closed (acknowledged):
 * they are told why, with what they typed; anyone else, the policy's 404.
 */
export function editClosed(actor: Actor, report: Report): Refusal | null {
  const facts = accessFacts(report);
  if (can(actor, "report:edit_submission", facts)) return null;
  if (
    relationTo(actor, facts) === "reporter" &&
    can(actor, "report:view", facts)
  )
    return { ok: false, errors: { _form: EDIT_CLOSED } };
  throw new NotFoundError();
}

/** The edit form's values: the report as it stands. */
export function submissionValues(report: Report): Record<string, string> {
  return { ...textOf(report) };
}

/** The researcher corrects their report: the new text, the old one kept, one timeline entry. */
export async function editSubmission(
  deps: Deps,
  actor: Actor,
  report: Report,
  input: SubmissionEditInput,
  request: AuditRequestContext | null = null,
): Promise<Outcome<boolean>> {
  const closed = editClosed(actor, report);
  if (closed) return closed;
  const changed = FIELDS.filter((f) => input[f.key] !== report[f.key]);
  if (changed.length === 0) return { ok: true, value: false };
  const now = deps.clock.now();
  const edited = await deps.db.transaction().execute(async (tx) => {
    if (!(await updateSubmission(tx, report.id, textOf(input), now)))
      return false;
    const eventId = await recordChange(tx, deps, {
      change: "submission_edited",
      report,
      actor,
      at: now,
      request,
      // Our own words: which fields, never their text.
      body: `Changed: ${changed.map((f) => f.label).join(", ")}.`,
      details: { fields: changed.map((f) => f.key) },
    });
    await insertRevision(tx, {
      ...textOf(report),
      reportId: report.id,
      eventId,
      editedBy: actor.id,
      at: now,
    });
    return true;
  });
  // Acknowledged between the page and the save: nothing changed.
  if (!edited) return { ok: false, errors: { _form: EDIT_CLOSED } };
  return { ok: true, value: true };
}

/** The versions edits replaced, for staff (report:view_revisions). */
export async function revisionsPage(deps: Deps, actor: Actor, report: Report) {
  if (!can(actor, "report:view_revisions", accessFacts(report)))
    throw new NotFoundError();
  const [revisions, attachments] = await Promise.all([
    listRevisions(deps.db, report.id),
    listAttachments(deps.db, report.id),
  ]);
  return {
    report: { publicId: report.publicId, title: report.title },
    // The files the researcher removed before acknowledgment, kept here.
    removedFiles: attachments.flatMap((a, i) =>
      a.removedAt
        ? [
            {
              href: `/reports/${report.publicId}/attachments/${a.publicId}`,
              fileName: shownFileName(actor, accessFacts(report), a, i + 1),
              removed: formatDateTime(a.removedAt),
            },
          ]
        : [],
    ),
    revisions: revisions.map((r, i) => ({
      anchor: `revision-${r.eventId}`,
      number: i + 1,
      replaced: formatDateTime(r.replacedAt),
      editor: r.editorName,
      title: r.title,
      asset: r.asset,
      descriptionHtml: renderMarkdown(r.description),
      stepsHtml: renderMarkdown(r.steps),
      impactHtml: renderMarkdown(r.impact),
    })),
  };
}
