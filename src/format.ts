/** Dates are always shown with their time zone, so a deadline is never ambiguous. */
export function formatDateTime(date: Date, timeZone = "UTC"): string {
  const text = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(date);
  return `${text} ${timeZone}`;
}

export const ROLE_LABELS: Record<string, string> = {
  researcher: "Researcher",
  org_contact: "Organization contact",
  triager: "Triager",
  admin: "Administrator",
};
