import type { NextFunction, Request, Response } from "express";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import multer from "multer";
import { HttpError } from "./errors.js";

const UNREADABLE_FORM =
  "The form could not be read. Go back, reload the page and try again.";

export const MAX_FILES = 5;
export const MAX_FILE_BYTES = 10 * 1024 * 1024;
export const UPLOAD_FIELD = "attachments";

/**
 * Parses multipart forms into a temporary folder under DATA_DIR, so the CSRF
 * check (which needs the form's token) can run on every multipart request
 * before any route sees it. Temporary files are removed when the response ends;
 * a route that keeps a file moves it into the content-addressed store first.
 * A limit broken is kept as `req.uploadError` for the form to show by its field.
 */
export function multipartParser(dataDir: string) {
  const tmp = path.join(dataDir, "tmp");
  mkdirSync(tmp, { recursive: true });
  const upload = multer({
    dest: tmp,
    limits: {
      files: MAX_FILES,
      fileSize: MAX_FILE_BYTES,
      fields: 60,
      fieldSize: 256 * 1024,
    },
  }).array(UPLOAD_FIELD, MAX_FILES);

  return (req: Request, res: Response, next: NextFunction) => {
    if (!req.is("multipart/form-data")) return next();
    res.on("close", () => {
      for (const f of (req.files as Express.Multer.File[] | undefined) ?? []) {
        rmSync(f.path, { force: true });
      }
    });
    upload(req, res, (err: unknown) => {
      if (err instanceof multer.MulterError) {
        req.uploadError = uploadErrorMessage(err);
        return next();
      }
      // Anything else is a body that is not valid multipart (a NUL in a
      // file name, a broken part header): the sender's fault, not ours.
      if (err) return next(new HttpError(400, UNREADABLE_FORM));
      next();
    });
  };
}

function uploadErrorMessage(err: multer.MulterError): string {
  switch (err.code) {
    case "LIMIT_FILE_SIZE":
      return `Each file must be at most ${MAX_FILE_BYTES / 1024 / 1024} MB.`;
    case "LIMIT_FILE_COUNT":
    case "LIMIT_UNEXPECTED_FILE":
      return `Attach at most ${MAX_FILES} files.`;
    default:
      return "The upload could not be read. Try again with fewer or smaller files.";
  }
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      uploadError?: string;
    }
  }
}
