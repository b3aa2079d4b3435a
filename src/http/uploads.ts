import type { NextFunction, Request, Response } from "express";
import { mkdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import multer from "multer";
import { mustEnrollTwoFactor } from "../auth/policy.js";
import { HttpError } from "./errors.js";
import { actorOf } from "./middleware.js";

const UNREADABLE_FORM =
  "The form could not be read. Go back, reload the page and try again.";

export const MAX_FILES = 5;
export const MAX_FILE_BYTES = 10 * 1024 * 1024;
export const UPLOAD_FIELD = "attachments";

/** The routes that take files (POST): a new report, and files added to one. */
const FILE_ROUTES = /^\/reports\/(?:new|[^/]+\/attachments)\/?$/i;

/** The CSRF check, as csrf-sync gives it. */
export interface FormTokenCheck {
  isRequestValid(req: Request): boolean;
  invalidCsrfTokenError: Error;
}

/**
 * Parses the multipart forms of the routes that take files, for a signed-in
 * user only, into a temporary folder under DATA_DIR. Every other multipart
 * body is left unread, so the CSRF check after this refuses it. The form's
 * token comes before its file inputs: a file is written only once the token
 * has arrived and is right (the whole form is checked again afterwards).
 * Temporary files are removed when the response ends; a route that keeps a
 * file moves it into the content-addressed store first. A limit broken is
 * kept as `req.uploadError` for the form to show by its field.
 */
export function fileUploads(dataDir: string, csrf: FormTokenCheck) {
  const tmp = path.join(dataDir, "tmp");
  mkdirSync(tmp, { recursive: true });
  const upload = multer({
    dest: tmp,
    // Browsers send file names as UTF-8; busboy's default reads them as Latin-1.
    defParamCharset: "utf8",
    limits: {
      files: MAX_FILES,
      fileSize: MAX_FILE_BYTES,
      fields: 60,
      fieldSize: 256 * 1024,
    },
    fileFilter: (req, _file, cb) =>
      csrf.isRequestValid(req) ? cb(null, true) : cb(new TokenRefused()),
  }).array(UPLOAD_FIELD, MAX_FILES);

  return (req: Request, res: Response, next: NextFunction) => {
    if (
      req.method !== "POST" ||
      !FILE_ROUTES.test(req.path) ||
      !req.is("multipart/form-data") ||
      !req.user ||
      mustEnrollTwoFactor(actorOf(req))
    )
      return next();
    res.on("close", () => {
      // A file still arriving is listed without a path (multer removes it
      // when the upload is cut short); one already moved is gone: both fine.
      for (const f of (req.files as Express.Multer.File[] | undefined) ?? [])
        if (f.path) rm(f.path, { force: true }).catch(() => {});
    });
    upload(req, res, (err: unknown) => {
      if (err instanceof TokenRefused) return next(csrf.invalidCsrfTokenError);
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

/**
 * Reads only the text fields of a multipart form; its files are skipped
 * unread, so nothing is written. For a form kept over an expired session.
 */
export function readTextFields(
  req: Request,
  res: Response,
  maxFieldBytes: number,
): Promise<{ body: unknown; tooLarge: boolean }> {
  const read = multer({
    storage: multer.memoryStorage(),
    limits: { fields: 60, fieldSize: maxFieldBytes },
    fileFilter: (_req, _file, cb) => cb(null, false),
  }).any();
  return new Promise((resolve, reject) =>
    read(req, res, (err: unknown) => {
      if (!err) return resolve({ body: req.body, tooLarge: false });
      if (err instanceof multer.MulterError && err.code === "LIMIT_FIELD_VALUE")
        return resolve({ body: req.body, tooLarge: true });
      reject(new HttpError(400, UNREADABLE_FORM));
    }),
  );
}

/** A file part came before a valid CSRF token (multer annotates it: ours, not csrf-sync's shared one). */
class TokenRefused extends Error {}

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
