/**
 * An organization's own tracking ID for a case (participations.tracking_id),
 * the one text an organization writes that its mail subjects carry
 * (mail/templates.ts). Pure. Only printable ASCII, no brackets (the subject
 * sets IDs in brackets), no line break, at most 64 characters, and no
 * space at either end: anything else is refused where it is typed and left
 * out of a subject where it is read.
 */
export const TRACKING_ID_MAX = 64;

const SHAPE =
  /^[\x21-\x5a\x5c\x5e-\x7e](?:[\x20-\x5a\x5c\x5e-\x7e]*[\x21-\x5a\x5c\x5e-\x7e])?$/;

export function isValidTrackingId(value: unknown): value is string {
  return (
    typeof value === "string" &&
    value.length <= TRACKING_ID_MAX &&
    SHAPE.test(value)
  );
}

/** The ID where it may stand in a subject, else null. */
export function subjectTrackingId(value: unknown): string | null {
  return isValidTrackingId(value) ? value : null;
}
