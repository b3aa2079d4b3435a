import type { NextFunction, Request, Response } from "express";
import { z } from "zod";
import { HttpError } from "./errors.js";

const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export type FieldErrors = Record<string, string>;

/**
 * What a use case or parseForm answers: its value, or one message per field
 * for the form to show (and the values to show in it again).
 */
export type Outcome<T> = { ok: true; value: T } | Refusal;

/** A use case's answer when it does not run: the messages, and what to show in the form. */
export type Refusal = {
  ok: false;
  errors: FieldErrors;
  /** The HTTP status, where not the form's usual 422 (a forged choice: 400). */
  status?: number;
  values?: Record<string, unknown>;
};

/** The Outcome of a use case that has nothing to answer but "done". */
export const DONE: Outcome<void> = { ok: true, value: undefined };

/**
 * Whether submitted input (a string, or arrays and objects of them, keys
 * included) carries a NUL byte. No field of the app takes one, and
 * PostgreSQL's text cannot hold one (SQLite's can): input that reaches the
 * database without a text() field's check is refused with this, so both
 * databases answer the same.
 */
export function containsNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (Array.isArray(value)) return value.some(containsNul);
  if (value && typeof value === "object")
    return Object.entries(value).some(
      ([key, v]) => key.includes("\u0000") || containsNul(v),
    );
  return false;
}

/**
 * A page whose path carries a NUL byte (`/account/tokens/%00/revoke`) does
 * not exist: 404 before any route looks its ID up, on either database.
 */
export function refuseNulInPath(
  req: Request,
  _res: Response,
  next: NextFunction,
): void {
  let path: string;
  try {
    path = decodeURIComponent(req.path);
  } catch {
    return next(); // not decodable: the routes answer as before
  }
  next(containsNul(path) ? new HttpError(404, "Page not found") : undefined);
}

/** Form fields arrive as strings (or arrays of them); anything else is discarded. */
export function formValues(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== "object") return {};
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (typeof value === "string") values[key] = value;
    else if (Array.isArray(value))
      values[key] = value.filter((v) => typeof v === "string");
  }
  return values;
}

/**
 * Validates a submitted form. On failure it returns one message per field
 * (the first) and the values as typed, so the page can show both; password
 * fields are never echoed back.
 */
export function parseForm<S extends z.ZodType>(
  schema: S,
  body: unknown,
): Outcome<z.infer<S>> & ({ ok: true } | { values: Record<string, unknown> }) {
  const values = formValues(body);
  const result = schema.safeParse(values);
  if (result.success) return { ok: true, value: result.data };
  const errors: FieldErrors = {};
  for (const issue of result.error.issues) {
    const field = String(issue.path[0] ?? "_form");
    if (!errors[field]) errors[field] = issue.message;
  }
  for (const key of Object.keys(values))
    if (/password/i.test(key)) delete values[key];
  return { ok: false, errors, values };
}

/** Trimmed text with a length window and a clear message; control characters refused. */
export function text(label: string, min: number, max: number) {
  return z
    .string({ error: `${label} is required.` })
    .transform((s) => s.trim())
    .pipe(
      z
        .string()
        .min(1, `${label} is required.`)
        .min(min, `${label} needs at least ${min} characters.`)
        .max(max, `${label} must be at most ${max} characters.`)
        .refine((s) => !CONTROL_CHARACTERS.test(s), {
          message: `${label} contains characters that are not allowed.`,
        }),
    );
}

/** Trimmed text that may be empty, with a length limit; control characters refused. */
export function optionalText(label: string, max: number) {
  return z
    .string()
    .default("")
    .transform((s) => s.trim())
    .pipe(
      z
        .string()
        .max(max, `${label} must be at most ${max} characters.`)
        .refine((s) => !CONTROL_CHARACTERS.test(s), {
          message: `${label} contains characters that are not allowed.`,
        }),
    );
}

export const emailField = z
  .string({ error: "Email is required." })
  .transform((s) => s.trim().toLowerCase())
  .pipe(
    z
      .string()
      .min(1, "Email is required.")
      .max(254, "Email must be at most 254 characters.")
      .pipe(z.email("Enter a valid email address, like name@example.org.")),
  );

/**
 * A day written YYYY-MM-DD that the calendar has: Date.parse alone takes
 * 2027-02-30 and answers 2 March.
 */
export function isCalendarDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const at = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(at.getTime()) && at.toISOString().startsWith(s);
}
