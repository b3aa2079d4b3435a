/**
 * CSV for spreadsheets, safe against formula injection: a cell a spreadsheet
 * would run as a formula (=, +, -, @, tab, carriage return first) is
 * prefixed with an apostrophe, as OWASP recommends. Every cell is quoted.
 */
export function csvCell(value: string | number | null | undefined): string {
  let text = value === null || value === undefined ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
  return `"${text.replace(/"/g, '""')}"`;
}

export function csvRow(cells: (string | number | null | undefined)[]): string {
  return cells.map(csvCell).join(",") + "\r\n";
}
