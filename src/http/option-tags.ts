import { escapeHtml } from "./html.js";

export interface SelectOption {
  readonly value: string;
  readonly label: string;
}

/** A list's options as HTML, and where `selected` goes in each value's tags. */
interface BuiltOptions {
  html: string;
  /** Offsets just after each tag's value attribute, by value. */
  selectAt: Map<string, number[]>;
}

const built = new WeakMap<readonly SelectOption[], BuiltOptions>();

function buildOptions(options: readonly SelectOption[]): BuiltOptions {
  let html = "";
  const selectAt = new Map<string, number[]>();
  for (const o of options) {
    const value = String(o.value);
    html += `\n        <option value="${escapeHtml(value)}"`;
    const at = selectAt.get(value);
    if (at) at.push(html.length);
    else selectAt.set(value, [html.length]);
    html += `>${escapeHtml(String(o.label))}</option>`;
  }
  return { html, selectAt };
}

/**
 * A select's <option> tags, `selected` on every one whose value is the
 * field's. The long lists (500 organizations, the CWE list) were built tag
 * by tag in field.ejs on every view: 13 % of a triager's report page. A
 * frozen list's tags are built once and kept while the list lives
 * (keptOptions); any other list is built on each call.
 */
export function optionTags(
  options: readonly SelectOption[],
  selected: unknown,
): string {
  let entry = built.get(options);
  if (!entry) {
    entry = buildOptions(options);
    if (Object.isFrozen(options)) built.set(options, entry);
  }
  const { html, selectAt } = entry;
  const positions = selectAt.get(String(selected ?? ""));
  if (!positions) return html;
  let out = "";
  let from = 0;
  for (const at of positions) {
    out += html.slice(from, at) + " selected";
    from = at;
  }
  return out + html.slice(from);
}

const derived = new WeakMap<object, Map<string, readonly SelectOption[]>>();

/**
 * Options derived from a kept list (the organizations: see
 * listOrganizations), made and frozen once per list and variant, so their
 * HTML is built once too.
 */
export function keptOptions(
  source: readonly object[],
  variant: string,
  make: () => SelectOption[],
): readonly SelectOption[] {
  const freeze = () =>
    Object.freeze(make().map((o) => Object.freeze({ ...o })));
  if (!Object.isFrozen(source)) return freeze();
  let variants = derived.get(source);
  if (!variants) derived.set(source, (variants = new Map()));
  let options = variants.get(variant);
  if (!options) variants.set(variant, (options = freeze()));
  return options;
}
