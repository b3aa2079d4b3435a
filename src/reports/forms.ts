/**
 * The report forms' schemas: what each form of filing and of the report
 * page accepts, and the message next to a field when it does not.
 */
import { z } from "zod";
import { MAX_FILES } from "../http/uploads.js";
import { optionalText, text } from "../http/validation.js";
import { cvssProblem, scoreCvss } from "./cvss.js";
import { isKnownCwe } from "./cwe.js";
import { CREDIT_KINDS, DATA_KINDS } from "./types.js";
import { RESOLUTIONS, TRANSITION_NAMES } from "./workflow.js";

export const NEW_ORGANIZATION = "new";

const asList = (v: unknown) =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** What the researcher wrote, as filed and as corrected before acknowledgment. */
const submissionFields = {
  title: text("Title", 5, 200),
  asset: text("Affected asset", 2, 500),
  description: text("Description", 20, 50_000),
  steps: text("Steps to reproduce", 5, 50_000),
  impact: text("Impact", 5, 20_000),
};

/** The researcher's correction of their report (submission-edit.ts). */
export const submissionEditSchema = z.object(submissionFields);
export type SubmissionEditInput = z.infer<typeof submissionEditSchema>;

export const reportFormSchema = z
  .object({
    title: submissionFields.title,
    organization: z.string().max(40).default(""),
    newOrganization: optionalText("Organization name", 200),
    asset: submissionFields.asset,
    cwe: z
      .string({ error: "Choose a weakness." })
      .refine(isKnownCwe, "Choose a weakness from the list, or “Other”."),
    cvss: optionalText("CVSS vector", 300).refine(
      (v) => v === "" || scoreCvss(v) !== null,
      "Enter a complete CVSS 3.1 or 4.0 vector, like CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N, or leave it empty.",
    ),
    description: submissionFields.description,
    steps: submissionFields.steps,
    impact: submissionFields.impact,
    dataExposed: z.preprocess(
      asList,
      z
        .array(
          z.enum(DATA_KINDS, {
            error: "Choose from the listed kinds of data.",
          }),
        )
        .max(5),
    ),
    recordsAffected: z
      .string()
      .default("")
      .transform((s) => s.replace(/[\s,._]/g, ""))
      .refine(
        (s) => s === "" || /^\d{1,12}$/.test(s),
        "Enter a whole number, like 2000000, or leave it empty.",
      )
      .transform((s) => (s === "" ? null : Number(s))),
    creditKind: z.enum(CREDIT_KINDS, {
      error: "Choose how you want to be credited.",
    }),
    creditHandle: optionalText("Handle", 80),
    revealIdentity: z
      .string()
      .optional()
      .transform((v) => v === "yes"),
    keptAttachments: z.preprocess(
      asList,
      z.array(z.string().max(40)).max(MAX_FILES),
    ),
  })
  .superRefine((form, ctx) => {
    if (
      form.organization === NEW_ORGANIZATION &&
      form.newOrganization.length < 2
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["newOrganization"],
        message: "Name the affected organization.",
      });
    }
    if (form.organization === "") {
      ctx.addIssue({
        code: "custom",
        path: ["organization"],
        message:
          "Choose the affected organization, or “Another organization” and name it.",
      });
    }
    if (form.creditKind === "handle" && form.creditHandle.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["creditHandle"],
        message: "Enter the handle to credit.",
      });
    }
  });
export type ReportForm = z.infer<typeof reportFormSchema>;

const checkbox = z
  .string()
  .optional()
  .transform((v) => v === "yes");

/** A field the form may leave out: absent stays undefined (unchanged), sent is checked. */
const absentOr = <T extends z.ZodType>(schema: T) =>
  z.union([z.undefined(), schema]).optional();

const cweField = z
  .string()
  .refine(isKnownCwe, "Choose a weakness from the list.");
const cvssField = optionalText("CVSS vector", 300);

/**
 * Nothing half chosen is dropped: a vector typed in part, or the
 * calculator's pickers chosen in part (`cvssPicked`, sent only when not
 * every metric is chosen), is refused with the missing metrics named.
 */
function refineTriage(
  form: {
    cvss?: string;
    cvssPicked: string;
    organization?: string;
    createSuggested: boolean;
  },
  ctx: z.RefinementCtx,
) {
  const problem =
    cvssProblem(form.cvssPicked) ??
    (form.cvss === undefined ? null : cvssProblem(form.cvss));
  if (problem)
    ctx.addIssue({ code: "custom", path: ["cvss"], message: problem });
  if (form.createSuggested && form.organization)
    ctx.addIssue({
      code: "custom",
      path: ["organization"],
      message:
        "Choose an organization from the list, or create the one the researcher suggested: not both.",
    });
}

export const transitionSchema = z
  .object({
    name: z.enum(TRANSITION_NAMES, { error: "Unknown action." }),
    message: optionalText("Message", 20_000),
    resolution: z
      .enum(RESOLUTIONS)
      .optional()
      .or(z.literal("").transform(() => undefined)),
    duplicateOf: optionalText("Original report ID", 20),
    /** The box ticked to confirm an irreversible step (publish). */
    confirm: checkbox,
    // The triage step carries the triage fields, saved with it; a field
    // left out stays as it is.
    cwe: absentOr(cweField),
    cvss: absentOr(cvssField),
    cvssPicked: optionalText("CVSS metrics", 300),
    organization: absentOr(z.string().max(40)),
    createSuggested: checkbox,
  })
  .superRefine(refineTriage);
export type TransitionInput = z.infer<typeof transitionSchema>;

export const commentSchema = z.object({
  body: text("Comment", 1, 20_000),
  /** Who reads it, a value the form offered (reports/audiences.ts); absent: the writer's default. */
  audience: z.string().max(100).optional(),
});
export type CommentInput = z.infer<typeof commentSchema>;

export const NOT_SHAREABLE =
  "Choose a message between the researcher and the CERT on this report's timeline that is not shared yet.";

const eventId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** The message to share. The page offers only valid ones, so any other value gets one message for the whole form. */
export const shareSchema = z
  .object({
    event: z.unknown().optional(),
    /** The organization to share it with (its public ID); needed when several were notified. */
    organization: z.string().max(40).optional(),
  })
  .transform((form, ctx) => {
    const event = eventId.safeParse(form.event);
    if (event.success)
      return { event: event.data, organization: form.organization };
    ctx.addIssue({ code: "custom", message: NOT_SHAREABLE });
    return z.NEVER;
  });
export type ShareInput = z.infer<typeof shareSchema>;

export const triageSchema = z
  .object({
    cwe: cweField,
    cvss: cvssField,
    cvssPicked: optionalText("CVSS metrics", 300),
    organization: z.string().max(40).default(""),
    /** Create the organization the researcher suggested, and set it. */
    createSuggested: checkbox,
  })
  .superRefine(refineTriage);
export type TriageInput = z.infer<typeof triageSchema>;

/** What a triage change names; a field left undefined stays as it is. */
export type TriageChange = Partial<
  Pick<TriageInput, "cwe" | "cvss" | "organization">
> &
  Pick<TriageInput, "createSuggested">;

/**
 * "Assign to me" / "Unassign me" (`assignee`), or anyone on the team by
 * their public ID (`assignee_id`, "" for nobody; who may hold a report is
 * checked by assignment.ts).
 */
export const assignSchema = z
  .object({
    assignee: z.enum(["me", "none"], { error: "Unknown choice." }).optional(),
    assignee_id: z.string().trim().max(40).optional(),
  })
  .superRefine((form, ctx) => {
    if (form.assignee === undefined && form.assignee_id === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["assignee_id"],
        message: "Choose who works on this report.",
      });
  });
export type AssignInput = z.infer<typeof assignSchema>;
