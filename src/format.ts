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

/**
 * The same dates come back on every view of a list (each row's submission,
 * activity and deadlines): formatted ones are kept by instant and zone, up to
 * this many, then all dropped at once (formatting was 3 % of a queue view's
 * CPU in bench/README.md).
 */
const FORMATTED_KEPT = 20_000;
/** Formatted dates by zone, then by instant (a number key: no string to build). */
const formatted = new Map<string, Map<number, string>>();
let formattedCount = 0;

/** Dates are always shown with their time zone, so a deadline is never ambiguous. */
export function formatDateTime(date: Date, timeZone = "UTC"): string {
  let zone = formatted.get(timeZone);
  if (zone === undefined) formatted.set(timeZone, (zone = new Map()));
  const at = date.getTime();
  let text = zone.get(at);
  if (text === undefined) {
    text = `${formatterFor(timeZone).format(date)} ${timeZone}`;
    if (formattedCount >= FORMATTED_KEPT) {
      for (const kept of formatted.values()) kept.clear();
      formattedCount = 0;
    }
    zone.set(at, text);
    formattedCount += 1;
  }
  return text;
}

export const ROLE_LABELS: Record<string, string> = {
  researcher: "Researcher",
  org_contact: "Organization contact",
  triager: "Triager",
  admin: "Administrator",
};
