/**
 * Writes a change's webhook deliveries, in the transaction of the change
 * (recordChange calls it): one row per (event, endpoint), for the endpoints
 * subscribed to the event whose owner the policy lets hear of it. If the
 * change rolls back, the events never existed.
 */
import { randomBytes } from "node:crypto";
import { webhookMayHear } from "../auth/policy.js";
import type { DbOrTx } from "../db/index.js";
import type { Config } from "../config.js";
import { findOrganizationById } from "../orgs/repository.js";
import { findEventById } from "../reports/repository.js";
import { accessFacts, type Report } from "../reports/types.js";
import type { State } from "../reports/workflow.js";
import { findUserById } from "../users/repository.js";
import { toActor } from "../users/service.js";
import { eventPayload, eventsOfChange } from "./events.js";
import {
  insertDeliveries,
  listEnabledEndpoints,
  type NewDelivery,
} from "./repository.js";

/** A Standard Webhooks message ID: the same on every attempt. */
export function newEventId(): string {
  return `msg_${randomBytes(18).toString("base64url")}`;
}

export interface ChangeForWebhooks {
  change: string;
  kind: string;
  /** The report as it stands after the change. */
  report: Report;
  timelineEntryId: number;
  at: Date;
  fromState?: State;
  toState?: State;
}

export async function enqueueWebhookEvents(
  tx: DbOrTx,
  config: Pick<Config, "baseUrl">,
  change: ChangeForWebhooks,
): Promise<number> {
  const types = eventsOfChange(change.change, change.kind);
  if (types.length === 0) return 0;
  const endpoints = (await listEnabledEndpoints(tx)).filter((e) =>
    e.events.some((t) => types.includes(t)),
  );
  if (endpoints.length === 0) return 0;

  const { report } = change;
  const facts = accessFacts(report);
  const entry = types.includes("comment.added")
    ? await findEventById(tx, change.timelineEntryId)
    : undefined;
  const reach = entry
    ? { audience: entry.audience, audienceOrgId: entry.audienceOrgId }
    : { audience: "internal" as const, audienceOrgId: null };
  const audience = types.includes("comment.added") ? reach.audience : undefined;
  const owners = new Map<number, ReturnType<typeof toActor> | null>();
  const ownerOf = async (id: number) => {
    if (!owners.has(id)) {
      const user = await findUserById(tx, id);
      owners.set(id, user && !user.disabledAt ? toActor(user) : null);
    }
    return owners.get(id)!;
  };
  // An organization's endpoint hears its own organization's ID, never
  // another participant's; the CERT's endpoints hear the lead's.
  const publicIdOf = async (orgId: number | null) =>
    orgId === null
      ? null
      : ((await findOrganizationById(tx, orgId))?.publicId ?? null);
  const leadPublicId = await publicIdOf(report.organizationId);

  const rows: NewDelivery[] = [];
  for (const type of types) {
    const eventId = newEventId();
    const payloadFor = (organizationPublicId: string | null) =>
      JSON.stringify(
        eventPayload({
          type,
          change: change.change,
          report,
          at: change.at,
          fromState: change.fromState,
          toState: change.toState,
          timelineEntryId: change.timelineEntryId,
          audience,
          organizationPublicId,
          baseUrl: config.baseUrl,
        }),
      );
    for (const endpoint of endpoints) {
      if (!endpoint.events.includes(type)) continue;
      const owner = await ownerOf(endpoint.ownerId);
      if (!owner) continue;
      const heard = webhookMayHear(
        owner,
        endpoint,
        facts,
        type === "comment.added" ? reach : null,
      );
      if (!heard) continue;
      const payload = payloadFor(
        endpoint.orgId === null
          ? leadPublicId
          : await publicIdOf(endpoint.orgId),
      );
      rows.push({
        endpointId: endpoint.id,
        eventId,
        eventType: type,
        reportId: report.id,
        payload,
        at: change.at,
      });
    }
  }
  await insertDeliveries(tx, rows);
  return rows.length;
}
