/**
 * Webhook endpoints, as their managers see them: register one (its secret
 * shown once), read its delivery log, disable and enable it, rotate its
 * secret, delete it. Every call asks the policy (webhook:manage, then
 * canManageWebhook for the endpoint); an endpoint the actor may not manage
 * is answered like one that does not exist. Admins manage every endpoint,
 * an organization's administrator those of the organizations they administer.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import {
  can,
  canManageWebhook,
  webhookOrgChoices,
  type Actor,
} from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import { optionalText, type Outcome } from "../http/validation.js";
import { newPublicId } from "../ids.js";
import {
  findOrganizationById,
  findOrganizationByPublicId,
  listOrganizations,
} from "../orgs/repository.js";
import { findUserById } from "../users/repository.js";
import {
  isWebhookEvent,
  WEBHOOK_EVENT_LABELS,
  WEBHOOK_EVENTS,
  type WebhookEvent,
} from "./events.js";
import {
  deleteEndpoint,
  deliveryCounts,
  disableEndpoint,
  enableEndpoint,
  findEndpointByPublicId,
  insertEndpoint,
  listDeliveries,
  listEndpoints,
  setEndpointSecret,
  type WebhookEndpoint,
} from "./repository.js";
import {
  CalloutRefused,
  checkedAddress,
  systemResolver,
  TIMEOUT_MS,
  urlRefusal,
  withTimeout,
} from "./safe-fetch.js";

const CONTROL = /[\u0000-\u001f\u007f]/;

export const endpointSchema = z.object({
  url: z
    .string({ error: "The URL is required." })
    .transform((s) => s.trim())
    .pipe(
      z
        .string()
        .min(1, "The URL is required.")
        .max(2000, "The URL must be at most 2000 characters.")
        .refine((s) => !CONTROL.test(s) && !/\s/.test(s), {
          message: "The URL may not contain spaces or control characters.",
        }),
    ),
  description: optionalText("Description", 200),
  events: z
    .union([z.string(), z.array(z.string())], {
      error: "Choose at least one event.",
    })
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .pipe(
      z
        .array(z.string())
        .min(1, "Choose at least one event.")
        .refine((list) => list.every(isWebhookEvent), {
          message: "Choose events from the list.",
        })
        .transform((list) => [...new Set(list)] as WebhookEvent[]),
    ),
  organization: z.string().max(40).default(""),
});
export type EndpointInput = z.infer<typeof endpointSchema>;

/** A Standard Webhooks secret: whsec_ and 32 random bytes in base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

function requireManager(actor: Actor | null): asserts actor is Actor {
  if (!can(actor, "webhook:manage")) throw new NotFoundError();
}

/** The endpoint, if the actor may manage it; otherwise 404 like a missing one. */
async function loadEndpoint(
  deps: Deps,
  actor: Actor | null,
  publicId: string,
): Promise<WebhookEndpoint> {
  requireManager(actor);
  const endpoint = await findEndpointByPublicId(deps.db, publicId);
  if (!endpoint || !canManageWebhook(actor, endpoint))
    throw new NotFoundError();
  return endpoint;
}

export const EVENT_CHOICES = WEBHOOK_EVENTS.map((value) => ({
  value,
  label: WEBHOOK_EVENT_LABELS[value],
}));

/** What the list page shows; never a secret. */
export async function webhookOverview(deps: Deps, actor: Actor | null) {
  requireManager(actor);
  const endpoints = (await listEndpoints(deps.db)).filter((e) =>
    canManageWebhook(actor, e),
  );
  const counts = await deliveryCounts(deps.db);
  const orgs = await listOrganizations(deps.db);
  const orgName = new Map(orgs.map((o) => [o.id, o.name]));
  // An admin chooses any organization or all reports; an organization's
  // administrator one of the organizations they administer.
  const choices = webhookOrgChoices(actor);
  return {
    endpoints: endpoints.map((e) => {
      const c = counts.get(e.id);
      return {
        publicId: e.publicId,
        url: e.url,
        description: e.description,
        events: e.events,
        enabled: e.enabled,
        disabledReason: e.disabledReason,
        scope: e.orgId === null ? "All reports" : (orgName.get(e.orgId) ?? ""),
        created: formatDateTime(e.createdAt),
        waiting: (c?.queued ?? 0) + (c?.sending ?? 0),
        delivered: c?.delivered ?? 0,
        failed: c?.failed ?? 0,
      };
    }),
    organizations: orgs
      .filter((o) => choices === null || choices.includes(o.id))
      .map((o) => ({ value: o.publicId, label: o.name })),
    allReportsAllowed: choices === null,
    eventChoices: EVENT_CHOICES,
  };
}

/**
 * The account page's webhooks: the endpoints the actor manages, with their
 * state, for the roles that have webhooks; null for everybody else.
 */
export async function accountWebhooks(deps: Deps, actor: Actor | null) {
  if (!can(actor, "webhook:manage")) return null;
  return (await webhookOverview(deps, actor)).endpoints.map((e) => ({
    publicId: e.publicId,
    url: e.url,
    description: e.description,
    scope: e.scope,
    enabled: e.enabled,
    disabledReason: e.disabledReason,
    waiting: e.waiting,
    failed: e.failed,
  }));
}

/**
 * Registers an endpoint, owned by the actor. The URL is checked now (https,
 * no user name, no refused literal address, and the addresses its name
 * resolves to) and again at every delivery, after DNS.
 */
export async function createEndpoint(
  deps: Deps,
  actor: Actor | null,
  input: EndpointInput,
  request: AuditRequestContext | null = null,
): Promise<Outcome<{ endpoint: WebhookEndpoint; secret: string }>> {
  requireManager(actor);
  const { allowLoopback } = deps.config.webhooks;
  const refused = urlRefusal(input.url, allowLoopback);
  if (refused) return { ok: false, errors: { url: refused } };
  const host = new URL(input.url).hostname.replace(/^\[(.*)\]$/, "$1");
  try {
    await checkedAddress(
      host,
      allowLoopback,
      withTimeout(deps.webhookResolve ?? systemResolver, TIMEOUT_MS),
    );
  } catch (err) {
    if (!(err instanceof CalloutRefused)) throw err;
    return {
      ok: false,
      errors: {
        url: `The desk will not call this URL: ${err.message}. Webhooks go only to public addresses.`,
      },
    };
  }
  let orgId: number | null = null;
  const choices = webhookOrgChoices(actor);
  if (input.organization) {
    const org = await findOrganizationByPublicId(deps.db, input.organization);
    // Another organization's ID answers as a missing one: from the list.
    if (!org || (choices !== null && !choices.includes(org.id)))
      return {
        ok: false,
        errors: { organization: "Choose an organization from the list." },
      };
    orgId = org.id;
  } else if (choices !== null)
    return {
      ok: false,
      errors: {
        organization:
          "Choose the organization whose cases the endpoint hears of.",
      },
    };
  const secret = newWebhookSecret();
  const now = deps.clock.now();
  const endpoint = await deps.db.transaction().execute(async (tx) => {
    const created = await insertEndpoint(tx, {
      publicId: newPublicId(),
      ownerId: actor.id,
      orgId,
      url: input.url,
      description: input.description,
      events: input.events,
      secret,
      at: now,
    });
    await recordAudit(tx, {
      action: "webhook.created",
      actor,
      target: { type: "webhook", id: created.publicId },
      details: { events: created.events, scoped: orgId !== null },
      request,
      at: now,
    });
    return created;
  });
  return { ok: true, value: { endpoint, secret } };
}

/** One endpoint's page: its settings and its latest deliveries with each attempt. */
export async function endpointDetails(
  deps: Deps,
  actor: Actor | null,
  publicId: string,
) {
  const endpoint = await loadEndpoint(deps, actor, publicId);
  const owner = await findUserById(deps.db, endpoint.ownerId);
  const org =
    endpoint.orgId !== null
      ? await findOrganizationById(deps.db, endpoint.orgId)
      : null;
  const deliveries = await listDeliveries(deps.db, endpoint.id, 100);
  return {
    endpoint: {
      publicId: endpoint.publicId,
      url: endpoint.url,
      description: endpoint.description,
      events: endpoint.events.map((e) => WEBHOOK_EVENT_LABELS[e]),
      enabled: endpoint.enabled,
      disabledAt: endpoint.disabledAt && formatDateTime(endpoint.disabledAt),
      disabledReason: endpoint.disabledReason,
      consecutiveFailures: endpoint.consecutiveFailures,
      owner: owner ? `${owner.displayName} (${owner.email})` : "",
      scope: org ? org.name : "All reports",
      created: formatDateTime(endpoint.createdAt),
      secretRotated:
        endpoint.secretRotatedAt && formatDateTime(endpoint.secretRotatedAt),
    },
    deliveries: deliveries.map((d) => ({
      eventId: d.eventId,
      type: d.eventType,
      status: d.status,
      attempts: d.attempts,
      created: formatDateTime(d.createdAt),
      delivered: d.deliveredAt && formatDateTime(d.deliveredAt),
      // Waiting for its next try, or for the endpoint to be enabled again.
      next:
        d.status !== "queued"
          ? null
          : endpoint.enabled
            ? `Next try ${formatDateTime(d.nextAttemptAt)}`
            : "Waiting: the endpoint is disabled",
      lastError: d.lastError,
      attemptLog: d.attemptLog.map((a) => ({
        at: formatDateTime(a.at),
        status: a.statusCode,
        error: a.error,
        durationMs: a.durationMs,
      })),
    })),
  };
}

export async function setEndpointEnabled(
  deps: Deps,
  actor: Actor | null,
  publicId: string,
  enabled: boolean,
  request: AuditRequestContext | null = null,
): Promise<WebhookEndpoint> {
  const endpoint = await loadEndpoint(deps, actor, publicId);
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    if (enabled) await enableEndpoint(tx, endpoint.id, now);
    else await disableEndpoint(tx, endpoint.id, now, "disabled by hand");
    await recordAudit(tx, {
      action: enabled ? "webhook.enabled" : "webhook.disabled",
      actor,
      target: { type: "webhook", id: endpoint.publicId },
      request,
      at: now,
    });
  });
  return endpoint;
}

/** A new secret, effective at once; returned to be shown once. */
export async function rotateEndpointSecret(
  deps: Deps,
  actor: Actor | null,
  publicId: string,
  request: AuditRequestContext | null = null,
): Promise<string> {
  const endpoint = await loadEndpoint(deps, actor, publicId);
  const secret = newWebhookSecret();
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    await setEndpointSecret(tx, endpoint.id, secret, now);
    await recordAudit(tx, {
      action: "webhook.secret_rotated",
      actor,
      target: { type: "webhook", id: endpoint.publicId },
      request,
      at: now,
    });
  });
  return secret;
}

/** Deletes the endpoint and its delivery log; what waited is not sent. */
export async function removeEndpoint(
  deps: Deps,
  actor: Actor | null,
  publicId: string,
  request: AuditRequestContext | null = null,
): Promise<WebhookEndpoint> {
  const endpoint = await loadEndpoint(deps, actor, publicId);
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    await deleteEndpoint(tx, endpoint.id);
    await recordAudit(tx, {
      action: "webhook.deleted",
      actor,
      target: { type: "webhook", id: endpoint.publicId },
      // The host only: a URL's path may carry a token of the receiver's.
      details: { host: new URL(endpoint.url).host },
      request,
      at: now,
    });
  });
  return endpoint;
}
