import { createHash, randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { fileTypeFromFile } from "file-type";
import { PDFDict, PDFDocument, PDFName, PDFStream } from "pdf-lib";
import sharp from "sharp";
import { can, type Actor, type ReportAccessFacts } from "../auth/policy.js";
import { lockInTransaction } from "../db/dialect.js";
import type { Deps } from "../deps.js";
import {
  attachmentHashesInUse,
  deleteAbandonedAttachments,
} from "./repository.js";
import type { Attachment } from "./types.js";

/** What may be attached and shown: images, PDF and plain text, decided by content. */
export const ALLOWED_MEDIA_TYPES = [
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "application/pdf",
  "text/plain",
] as const;

/**
 * Proofs of concept people send that are kept only to be downloaded: ZIP
 * archives (never unpacked here), HAR captures, HTML pages and videos.
 * Each is recognised by its content AND its extension, and served as an
 * attachment, never inline (servedMediaType).
 */
export const DOWNLOAD_ONLY_MEDIA_TYPES = [
  "application/zip",
  "application/har+json",
  "text/html",
  "video/mp4",
  "video/webm",
] as const;

const EXTENSIONS: Record<string, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/gif": "gif",
  "image/webp": "webp",
  "application/pdf": "pdf",
  "text/plain": "txt",
  "application/zip": "zip",
  "application/har+json": "har",
  "text/html": "html",
  "video/mp4": "mp4",
  "video/webm": "webm",
};

/**
 * The type a file is sent with: a page or a capture a browser could run or
 * render goes out as bare bytes; the others as what they are. Every one of
 * them except an image is sent as an attachment (routes.ts, uploads.ts).
 */
export function servedMediaType(mediaType: string): string {
  return mediaType === "text/html" || mediaType === "application/har+json"
    ? "application/octet-stream"
    : mediaType;
}

/**
 * The name shown to someone who may not know who the researcher is: file
 * names often carry a person's name ("Jane Doe - PoC.pdf").
 */
export function neutralFileName(position: number, mediaType: string): string {
  return `attachment-${position}.${EXTENSIONS[mediaType] ?? "bin"}`;
}

/**
 * A file's name as this viewer may see it: its own name for whoever may know
 * who the researcher is (and for the file's uploader), a neutral one otherwise.
 */
export function shownFileName(
  actor: Actor,
  facts: ReportAccessFacts,
  attachment: Attachment,
  position: number,
): string {
  return can(actor, "report:see_reporter", facts) ||
    attachment.ownerId === actor.id
    ? attachment.fileName
    : neutralFileName(position, attachment.mediaType);
}

export function isImage(mediaType: string): boolean {
  return mediaType.startsWith("image/");
}

const extensionOf = (fileName: string) =>
  /\.([a-z0-9]{1,5})$/i.exec(fileName)?.[1]?.toLowerCase() ?? "";

// What a download-only file's bytes must be to carry its extension.
const BY_EXTENSION: Record<string, string> = {
  zip: "application/zip",
  mp4: "video/mp4",
  webm: "video/webm",
};

/** A HAR capture: a JSON object whose "log" holds the entries. */
function isHar(text: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    const log = (parsed as { log?: unknown } | null)?.log;
    return typeof log === "object" && log !== null && !Array.isArray(log);
  } catch {
    return false;
  }
}

/**
 * The file's type from its bytes; the browser's Content-Type is never
 * trusted. Plain text is valid UTF-8 without NUL bytes. A download-only
 * type needs its bytes and its name's extension to agree: a ZIP named
 * .zip, an MP4 or WebM video named so, HTML named .html or .htm, a HAR
 * capture (JSON with a "log") named .har.
 */
export async function sniffMediaType(
  file: string,
  fileName = "",
): Promise<string | null> {
  const extension = extensionOf(fileName);
  const detected = await fileTypeFromFile(file);
  if (detected) {
    if ((ALLOWED_MEDIA_TYPES as readonly string[]).includes(detected.mime))
      return detected.mime;
    return BY_EXTENSION[extension] === detected.mime ? detected.mime : null;
  }
  const bytes = readFileSync(file);
  if (bytes.length === 0 || bytes.includes(0)) return null;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    if (extension === "html" || extension === "htm") return "text/html";
    if (extension === "har") return isHar(text) ? "application/har+json" : null;
    // Markup under another name is refused: a page is kept only as what it
    // is, named so, and then only for download.
    if (/^\s*<(!doctype|html|script|svg|\?xml)/i.test(text)) return null;
    return "text/plain";
  } catch {
    return null;
  }
}

/** A display name only: the last path part, no control characters, no leading dots. */
export function sanitizeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  const clean = base
    .normalize("NFC")
    .replace(/[\u0000-\u001f\u007f<>:"|?*]/g, "")
    .replace(/^[.\s]+/, "")
    .trim()
    .slice(0, 120);
  return clean || "attachment";
}

/** Where the file with these bytes lives in ATTACHMENTS_DIR. */
export function storedPath(attachmentsDir: string, sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error("not a sha256");
  return path.join(attachmentsDir, sha256.slice(0, 2), sha256);
}

export function contentHash(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Writes bytes into the content-addressed store; the same bytes are stored
 * once. Called after the attachment's row is written, in its transaction
 * holding ATTACHMENT_FILES_LOCK: the clean-up removes a file only when no
 * row names it.
 */
export function storeUpload(attachmentsDir: string, bytes: Buffer): void {
  const target = storedPath(attachmentsDir, contentHash(bytes));
  if (!existsSync(target)) {
    mkdirSync(path.dirname(target), { recursive: true });
    // Renamed into place so a reader never sees half a file under its hash.
    const partial = `${target}.${randomBytes(6).toString("hex")}.partial`;
    writeFileSync(partial, bytes);
    renameSync(partial, target);
  }
}

/** How long an upload waits for the form it came with to be sent again. */
export const ABANDONED_UPLOAD_MS = 24 * 3_600_000;

/**
 * Held by an upload's transaction (shared: uploads do not wait for each
 * other) while it writes its row and then its file, and by the clean-up
 * (exclusive) while it decides which files no row names and removes them.
 * On SQLite the one write lock does this; on PostgreSQL, with instances
 * sharing ATTACHMENTS_DIR, the clean-up could otherwise miss an upload of
 * the same bytes not yet committed and remove the file it had just found
 * in place.
 */
export const ATTACHMENT_FILES_LOCK = "attachment_files";

/**
 * Deletes uploads never attached to a report (their form failed and was not
 * sent again) a day after they came, rows and files. A file is removed inside
 * the deleting transaction, holding ATTACHMENT_FILES_LOCK, and only when no
 * other attachment names it.
 */
export async function deleteAbandonedUploads(
  deps: Pick<Deps, "db" | "clock" | "config">,
): Promise<number> {
  const before = new Date(deps.clock.now().getTime() - ABANDONED_UPLOAD_MS);
  return deps.db.transaction().execute(async (tx) => {
    await lockInTransaction(tx, ATTACHMENT_FILES_LOCK);
    const hashes = [...new Set(await deleteAbandonedAttachments(tx, before))];
    const inUse = await attachmentHashesInUse(tx, hashes);
    for (const sha256 of hashes)
      if (!inUse.has(sha256))
        rmSync(storedPath(deps.config.attachmentsDir, sha256), { force: true });
    return hashes.length;
  });
}

// Each upload is decoded once: libvips' operation cache would only hold memory.
sharp.cache(false);

const IMAGE_FORMATS = {
  "image/jpeg": "jpeg",
  "image/png": "png",
  "image/gif": "gif",
  "image/webp": "webp",
} as const;

// A 48-megapixel photo fits; a small file claiming a huge canvas (a
// decompression bomb) is refused before it is decoded.
const MAX_PIXELS = 50_000_000;

/**
 * The file without what it says about who made it and where: EXIF (with GPS),
 * XMP, IPTC, comments and text chunks in images; the document information,
 * XMP and private application data in PDFs. Images are decoded and encoded
 * again in their own format (turned upright first, since the orientation tag
 * goes too); a PDF's pages are copied into a new document, which leaves old
 * revisions and unreferenced objects behind. Null when the file cannot be
 * cleaned (damaged, encrypted, or too large to decode).
 */
export async function withoutMetadata(
  file: string,
  mediaType: string,
): Promise<Buffer | null> {
  const bytes = readFileSync(file);
  try {
    if (mediaType === "application/pdf") return await cleanPdf(bytes);
    if (mediaType in IMAGE_FORMATS)
      return await cleanImage(
        bytes,
        IMAGE_FORMATS[mediaType as keyof typeof IMAGE_FORMATS],
      );
    return bytes;
  } catch {
    return null;
  }
}

async function cleanImage(
  bytes: Buffer,
  format: (typeof IMAGE_FORMATS)[keyof typeof IMAGE_FORMATS],
): Promise<Buffer> {
  // sharp keeps no metadata unless asked to; animated GIF and WebP keep their frames.
  return sharp(bytes, {
    animated: format === "gif" || format === "webp",
    autoOrient: true,
    failOn: "warning",
    limitInputPixels: MAX_PIXELS,
  })
    .toFormat(format, format === "jpeg" ? { quality: 90 } : {})
    .toBuffer();
}

const PDF_PRIVATE_KEYS = ["Metadata", "PieceInfo"].map((k) => PDFName.of(k));

async function cleanPdf(bytes: Buffer): Promise<Buffer | null> {
  // Throws on an encrypted file: its metadata could not be read or removed.
  const source = await PDFDocument.load(bytes, { updateMetadata: false });
  if (source.getPageCount() === 0) return null;
  const clean = await PDFDocument.create({ updateMetadata: false });
  for (const page of await clean.copyPages(source, source.getPageIndices()))
    clean.addPage(page);
  // Pages, images and fonts may carry their own XMP or an application's data.
  for (const [, object] of clean.context.enumerateIndirectObjects()) {
    const dict =
      object instanceof PDFDict
        ? object
        : object instanceof PDFStream
          ? object.dict
          : null;
    for (const key of PDF_PRIVATE_KEYS) dict?.delete(key);
  }
  return Buffer.from(await clean.save());
}
