// Building an Intl.DateTimeFormat costs far more than using one (a list page
// formats over a hundred dates), so one is kept per time zone.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-GB", {
      timeZone,
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Dates are always shown with their time zone, so a deadline is never ambiguous. */
export function formatDateTime(date: Date, timeZone = "UTC"): string {
  return `${formatterFor(timeZone).format(date)} ${timeZone}`;
}

export const ROLE_LABELS: Record<string, string> = {
  researcher: "Researcher",
  org_contact: "Organization contact",
  triager: "Triager",
  admin: "Administrator",
};
