/**
 * A user's OpenPGP public key on their account page: mail about reports is
 * encrypted to it (src/mail/sealed.ts) for as long as it is usable for the
 * account's address, which is checked again whenever it is shown or used
 * (the address may change, the key may expire).
 */
import { z } from "zod";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import { can, type Actor } from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import { checkPublicKey, formatFingerprint } from "../mail/pgp.js";
import { deletePgpKey, findPgpKey, savePgpKey } from "./pgp-key-repository.js";
import type { Outcome } from "./service.js";
import type { User } from "./types.js";

export const pgpKeySchema = z.object({
  pgp_public_key: z
    .string({ error: "Paste your OpenPGP public key." })
    .trim()
    .min(1, "Paste your OpenPGP public key.")
    .max(
      100_000,
      "This is too long for a public key (100,000 characters at most).",
    ),
});

/** What the account page says about the key, checked against the address now. */
export async function pgpKeyView(deps: Pick<Deps, "db" | "clock">, user: User) {
  const stored = await findPgpKey(deps.db, user.id);
  if (!stored) return null;
  const check = await checkPublicKey(
    stored.armored,
    user.email,
    deps.clock.now(),
  );
  return {
    fingerprint: formatFingerprint(stored.fingerprint),
    expires: stored.expiresAt ? formatDateTime(stored.expiresAt) : "never",
    // Why mail goes out without it now (a changed address, an expired key).
    problem: check.ok ? null : check.error,
  };
}

export async function setPgpKey(
  deps: Pick<Deps, "db" | "clock">,
  actor: Actor,
  user: User,
  armored: string,
  request: AuditRequestContext | null,
): Promise<Outcome<{ fingerprint: string }>> {
  if (!can(actor, "account:manage") || actor.id !== user.id)
    throw new NotFoundError();
  const now = deps.clock.now();
  const check = await checkPublicKey(armored, user.email, now);
  if (!check.ok) return { ok: false, errors: { pgp_public_key: check.error } };
  await deps.db.transaction().execute(async (tx) => {
    await savePgpKey(
      tx,
      user.id,
      {
        // Stored as the key itself, re-armored: nothing pasted around it.
        armored: check.key.armor(),
        fingerprint: check.fingerprint,
        expiresAt: check.expiresAt,
      },
      now,
    );
    await recordAudit(tx, {
      action: "user.pgp_key_set",
      actor,
      target: { type: "user", id: user.publicId },
      details: { fingerprint: check.fingerprint },
      request,
      at: now,
    });
  });
  return { ok: true, value: { fingerprint: check.fingerprint } };
}

export async function removePgpKey(
  deps: Pick<Deps, "db" | "clock">,
  actor: Actor,
  user: User,
  request: AuditRequestContext | null,
) {
  if (!can(actor, "account:manage") || actor.id !== user.id)
    throw new NotFoundError();
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    const stored = await findPgpKey(tx, user.id);
    if (!stored || !(await deletePgpKey(tx, user.id))) return;
    await recordAudit(tx, {
      action: "user.pgp_key_removed",
      actor,
      target: { type: "user", id: user.publicId },
      details: { fingerprint: stored.fingerprint },
      request,
      at: now,
    });
  });
}
