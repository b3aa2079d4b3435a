/**
 * Files a person sends with a report or later, and the download of one:
 * the use cases. Sniffing, cleaning and storing the bytes is attachments.ts.
 */
import { can, type Actor } from "../auth/policy.js";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import { lockInTransaction } from "../db/dialect.js";
import type { Deps } from "../deps.js";
import { NotFoundError } from "../http/errors.js";
import { MAX_FILES } from "../http/uploads.js";
import type { Outcome } from "../http/validation.js";
import { newPublicId } from "../ids.js";
import {
  ATTACHMENT_FILES_LOCK,
  contentHash,
  isImage,
  sanitizeFileName,
  servedMediaType,
  shownFileName,
  sniffMediaType,
  storeUpload,
  storedPath,
  withoutMetadata,
} from "./attachments.js";
import { recordChange } from "./changes.js";
import {
  findPendingAttachments,
  insertAttachment,
  linkAttachments,
  listAttachments,
  markAttachmentRemoved,
  touchReport,
} from "./repository.js";
import { requireOn } from "./service.js";
import { editClosed } from "./submission-edit.js";
import { accessFacts, type Attachment, type Report } from "./types.js";

export interface UploadedFile {
  path: string;
  originalname: string;
}

export interface KeptAttachment {
  publicId: string;
  fileName: string;
  size: number;
}

const keptView = (a: Attachment): KeptAttachment => ({
  publicId: a.publicId,
  fileName: a.fileName,
  size: a.size,
});

/**
 * Stores uploaded files before the rest of the form is judged, so a form sent
 * back for a typo keeps its files: they wait as pending attachments of their
 * owner and come back as hidden fields. A file of a type we do not accept is
 * refused by its content, whatever its name says.
 */
export async function acceptUploads(
  deps: Deps,
  actor: Actor,
  files: readonly UploadedFile[],
  keptIds: readonly string[],
  uploadError?: string,
  request: AuditRequestContext | null = null,
): Promise<{ kept: KeptAttachment[]; error: string | null }> {
  const kept = (await findPendingAttachments(deps.db, actor.id, keptIds)).map(
    keptView,
  );
  if (uploadError) return { kept, error: uploadError };
  if (kept.length + files.length > MAX_FILES) {
    return { kept, error: `Attach at most ${MAX_FILES} files.` };
  }
  const refused: string[] = [];
  const unclean: string[] = [];
  for (const file of files) {
    const fileName = sanitizeFileName(file.originalname);
    const mediaType = await sniffMediaType(file.path, fileName);
    if (!mediaType) {
      refused.push(fileName);
      continue;
    }
    const cleaned = await withoutMetadata(file.path, mediaType);
    if (!cleaned) {
      unclean.push(fileName);
      continue;
    }
    const sha256 = contentHash(cleaned);
    const now = deps.clock.now();
    const attachment = await deps.db.transaction().execute(async (tx) => {
      await lockInTransaction(tx, ATTACHMENT_FILES_LOCK, "shared");
      const attachment = await insertAttachment(tx, {
        publicId: newPublicId(),
        reportId: null,
        ownerId: actor.id,
        sha256,
        mediaType,
        size: cleaned.length,
        fileName,
        at: now,
      });
      await recordAudit(tx, {
        action: "attachment.uploaded",
        actor,
        target: { type: "attachment", id: attachment.publicId },
        details: { sha256, mediaType, size: cleaned.length },
        request,
        at: now,
      });
      storeUpload(deps.config.attachmentsDir, cleaned);
      return attachment;
    });
    kept.push(keptView(attachment));
  }
  const errors = [
    refused.length
      ? `Not accepted (only images, PDF, plain text, and for download ZIP, HAR, HTML, MP4 or WebM named as such): ${refused.join(", ")}.`
      : "",
    unclean.length
      ? `Could not remove the hidden details (author, location) from ${unclean.join(", ")}: a damaged image or an encrypted PDF cannot be cleaned, so it was not accepted. Save or export it again, without a password, and attach it.`
      : "",
  ].filter(Boolean);
  return { kept, error: errors.length ? errors.join(" ") : null };
}

/** Files added after filing (a new screenshot, a retest log). */
export async function attachFiles(
  deps: Deps,
  actor: Actor,
  report: Report,
  files: readonly UploadedFile[],
  uploadError?: string,
  request: AuditRequestContext | null = null,
): Promise<Outcome<number>> {
  requireOn(actor, "report:upload", report);
  const existing = (await listAttachments(deps.db, report.id)).filter(
    (a) => a.removedAt === null,
  ).length;
  if (files.length === 0)
    return {
      ok: false,
      errors: { attachments: uploadError ?? "Choose at least one file." },
    };
  if (existing + files.length > MAX_FILES * 4) {
    return {
      ok: false,
      errors: { attachments: "This report has as many files as it can hold." },
    };
  }
  const { kept, error } = await acceptUploads(
    deps,
    actor,
    files,
    [],
    uploadError,
    request,
  );
  if (error || kept.length === 0)
    return {
      ok: false,
      errors: { attachments: error ?? "No file was accepted." },
    };
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    const pending = await findPendingAttachments(
      tx,
      actor.id,
      kept.map((k) => k.publicId),
    );
    await linkAttachments(
      tx,
      report.id,
      pending.map((a) => a.id),
    );
    await recordChange(tx, deps, {
      change: "files_attached",
      report,
      actor,
      at: now,
      request,
      body: kept.map((k) => k.fileName).join(", "),
      details: { attachments: pending.map((a) => a.publicId) },
    });
    await touchReport(tx, report.id, now);
  });
  return { ok: true, value: kept.length };
}

/** A file of a report, asked of the policy again on every download. */
export async function attachmentFor(
  deps: Deps,
  actor: Actor,
  report: Report,
  attachmentId: string,
  request: AuditRequestContext | null,
) {
  requireOn(actor, "report:view", report);
  // The whole list this viewer is shown, for the file's position in it (its
  // neutral name); a file its researcher removed is kept for CERT staff only.
  const seesRemoved = can(actor, "report:view_revisions", accessFacts(report));
  const attachments = (await listAttachments(deps.db, report.id)).filter(
    (a) => a.removedAt === null || seesRemoved,
  );
  const position =
    attachments.findIndex((a) => a.publicId === attachmentId.slice(0, 40)) + 1;
  const attachment = attachments[position - 1];
  if (!attachment) throw new NotFoundError();
  await recordAudit(deps.db, {
    action: "attachment.downloaded",
    actor,
    target: { type: "attachment", id: attachment.publicId },
    details: { report: report.publicId },
    request,
    at: deps.clock.now(),
  });
  return {
    file: storedPath(deps.config.attachmentsDir, attachment.sha256),
    fileName: shownFileName(actor, accessFacts(report), attachment, position),
    mediaType: servedMediaType(attachment.mediaType),
    inline: isImage(attachment.mediaType),
  };
}

export const REMOVE_CLOSED =
  "A CERT triager has acknowledged this report, so its files can no longer be removed: they read it as it was. If a file shows data it should not, say so in a comment and the CERT will handle it.";

/**
 * The researcher takes back a file they attached (one showing a real
 * person's data, say) until a triager acknowledges the report. The file is
 * kept for CERT staff, marked removed; nobody else sees it again. One
 * timeline entry and one audit entry, in one transaction.
 */
export async function removeAttachment(
  deps: Deps,
  actor: Actor,
  report: Report,
  attachmentId: string,
  request: AuditRequestContext | null = null,
): Promise<Outcome<string>> {
  // Anyone but the report's researcher: the policy's 404.
  if (editClosed(actor, report))
    return { ok: false, status: 409, errors: { attachments: REMOVE_CLOSED } };
  const attachment = (await listAttachments(deps.db, report.id)).find(
    (a) =>
      a.publicId === attachmentId.slice(0, 40) &&
      a.ownerId === actor.id &&
      a.removedAt === null,
  );
  if (!attachment) throw new NotFoundError();
  const now = deps.clock.now();
  const removed = await deps.db.transaction().execute(async (tx) => {
    if (
      !(await markAttachmentRemoved(
        tx,
        attachment.id,
        report.id,
        actor.id,
        now,
      ))
    )
      return false;
    await recordChange(tx, deps, {
      change: "attachment_removed",
      report,
      actor,
      at: now,
      request,
      // Our own words: a file's name may carry what it should not show.
      body: "Removed one file.",
      details: { attachment: attachment.publicId },
    });
    await touchReport(tx, report.id, now);
    return true;
  });
  // Acknowledged between the page and the click: nothing changed.
  if (!removed)
    return { ok: false, status: 409, errors: { attachments: REMOVE_CLOSED } };
  return { ok: true, value: attachment.fileName };
}

/** The researcher's own files they may still remove (the edit page lists them). */
export async function removableFiles(
  deps: Pick<Deps, "db">,
  actor: Actor,
  report: Report,
): Promise<{ publicId: string; fileName: string; size: string }[]> {
  if (!can(actor, "report:edit_submission", accessFacts(report))) return [];
  return (await listAttachments(deps.db, report.id))
    .filter((a) => a.removedAt === null && a.ownerId === actor.id)
    .map((a) => ({
      publicId: a.publicId,
      fileName: a.fileName,
      size: `${Math.ceil(a.size / 1024)} KB`,
    }));
}
