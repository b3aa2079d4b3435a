import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
} from "node:fs";
import path from "node:path";
import { fileTypeFromFile } from "file-type";

/** What may be attached: images, PDF and plain text, decided by content. */
export const ALLOWED_MEDIA_TYPES = [
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "application/pdf",
  "text/plain",
] as const;

export function isImage(mediaType: string): boolean {
  return mediaType.startsWith("image/");
}

/**
 * The file's type from its bytes; the uploaded name and the browser's
 * Content-Type are never trusted. Plain text is valid UTF-8 without NUL bytes.
 */
export async function sniffMediaType(file: string): Promise<string | null> {
  const detected = await fileTypeFromFile(file);
  if (detected) {
    return (ALLOWED_MEDIA_TYPES as readonly string[]).includes(detected.mime)
      ? detected.mime
      : null;
  }
  const bytes = readFileSync(file);
  if (bytes.length === 0 || bytes.includes(0)) return null;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    // Markup disguised as text would still be refused by nosniff; refusing it
    // here keeps a stored HTML file from ever existing.
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

export function storedPath(dataDir: string, sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error("not a sha256");
  return path.join(dataDir, "attachments", sha256.slice(0, 2), sha256);
}

/** Copies an upload into the content-addressed store; the same bytes are stored once. */
export function storeUpload(
  dataDir: string,
  tmpFile: string,
): { sha256: string; size: number } {
  const bytes = readFileSync(tmpFile);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const target = storedPath(dataDir, sha256);
  if (!existsSync(target)) {
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(tmpFile, target);
  }
  return { sha256, size: statSync(target).size };
}
