import ejs from "ejs";
import { readFileSync } from "node:fs";
import path from "node:path";
import { viewsDir } from "../paths.js";
import { subjectTrackingId } from "../reports/tracking-id.js";

/**
 * Subjects are built here from fixed text and IDs only: user-written text in a
 * subject is a known injection path, so no template may put any there.
 */
const subjects = {
  setup: () => "Finish setting up Disclosure Desk",
  set_password: () => "Set your Disclosure Desk password",
  invitation: () => "You have been invited to Disclosure Desk",
  verify_email: () => "Confirm your email address for Disclosure Desk",
  email_taken: () => "Someone tried to register with your address",
  password_reset: () => "Reset your Disclosure Desk password",
  email_change_confirm: () => "Confirm your new email address",
  email_change_notice: () => "Your Disclosure Desk email address is changing",
  password_changed: () => "Your Disclosure Desk password was changed",
  recovery_codes_regenerated: () =>
    "Your Disclosure Desk recovery codes were regenerated",
  // Only our own fixed words, the report ID and, for an organization's
  // contacts, its own tracking ID, validated again here: see notifications.ts.
  report_event: (data: Record<string, unknown>) => {
    const tracking = subjectTrackingId(data.trackingId);
    return `[${String(data.publicId)}]${tracking ? ` [${tracking}]` : ""} ${String(data.subjectText)}`;
  },
  // A report by email's receipt: the ID only, never the sender's subject.
  report_received_by_email: (data: Record<string, unknown>) =>
    `[${String(data.publicId)}] Received`,
  webhook_disabled: () => "A webhook endpoint of Disclosure Desk was disabled",
} satisfies Record<string, (data: Record<string, unknown>) => string>;

export type MailTemplate = keyof typeof subjects;

const compiled = new Map<string, ejs.TemplateFunction>();

/** `<%= %>` in a plain-text template: the value as it is, nothing for null. */
function plainText(value: unknown): string {
  return value == null ? "" : String(value);
}

function template(file: string): ejs.TemplateFunction {
  let fn = compiled.get(file);
  if (!fn) {
    fn = ejs.compile(readFileSync(file, "utf8"), {
      filename: file,
      // A text/plain body is not HTML: "O'Brien" must not arrive as "O&#39;Brien".
      ...(file.endsWith(".text.ejs") && { escape: plainText }),
    });
    compiled.set(file, fn);
  }
  return fn;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export function renderMail(
  name: MailTemplate,
  data: Record<string, unknown>,
): RenderedMail {
  const dir = path.join(viewsDir, "mail");
  return {
    subject: (subjects[name] as (data: Record<string, unknown>) => string)(
      data,
    ),
    text: template(path.join(dir, `${name}.text.ejs`))(data),
    html: template(path.join(dir, "layout.html.ejs"))({
      ...data,
      body: template(path.join(dir, `${name}.html.ejs`))(data),
    }),
  };
}
