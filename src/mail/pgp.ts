/**
 * OpenPGP for outgoing mail: checking a user's public key, and encrypting a
 * message to it signed by the desk (src/mail/desk-key.ts). The `openpgp`
 * package does the cryptography; this module says what a usable key is.
 */
import * as openpgp from "openpgp";

export interface UsableKey {
  ok: true;
  key: openpgp.Key;
  /** Upper-case hex, as gpg prints it. */
  fingerprint: string;
  /** Null: it never expires. */
  expiresAt: Date | null;
}

export type KeyCheck = UsableKey | { ok: false; error: string };

const refuse = (error: string): KeyCheck => ({ ok: false, error });

/** A fingerprint in groups of four, as people compare them. */
export function formatFingerprint(fingerprint: string): string {
  return fingerprint.match(/.{1,4}/g)!.join(" ");
}

async function readArmoredKey(armored: string): Promise<openpgp.Key | null> {
  try {
    return await openpgp.readKey({ armoredKey: armored });
  } catch {
    return null;
  }
}

async function throws(check: () => Promise<unknown>): Promise<boolean> {
  try {
    await check();
    return false;
  } catch {
    return true;
  }
}

/**
 * The instant a key's validity is judged at: now, or the newest of its own
 * self-signatures when that is later. A key made moments ago on a machine
 * whose clock runs ahead of the desk's (or a desk whose clock is behind) is
 * a good key; judged strictly at "now", openpgp would find its user ID and
 * subkey "not yet valid" and refuse it for the wrong reason. Expiry is still
 * checked against now.
 */
export function validityDate(key: openpgp.Key, now: Date): Date {
  let newest = key.getCreationTime().getTime();
  const times = [
    // A revocation made with the key counts too: judged after it, it holds.
    ...key.revocationSignatures,
    ...key.users.flatMap((u) => u.selfCertifications),
    ...key.subkeys.flatMap((s) => [
      ...s.bindingSignatures,
      { created: s.getCreationTime() },
    ]),
  ].map((sig) => sig.created?.getTime() ?? 0);
  for (const t of times) if (Number.isFinite(t)) newest = Math.max(newest, t);
  return new Date(Math.max(now.getTime(), newest));
}

/**
 * Whether mail to `email` may be encrypted to this armored public key at
 * `now`: a public key (never a private one), neither revoked nor expired,
 * with a valid encryption (sub)key and a valid user ID for the address.
 * The reasons are the words the account page shows.
 */
export async function checkPublicKey(
  armored: string,
  email: string,
  now: Date,
): Promise<KeyCheck> {
  const key = await readArmoredKey(armored.trim());
  if (!key)
    return refuse(
      "This is not an OpenPGP public key. Paste the whole armored block, from -----BEGIN PGP PUBLIC KEY BLOCK----- to its END line.",
    );
  if (key.isPrivate())
    return refuse(
      "This is a private key: never share it. Paste your public key (gpg --armor --export your@address).",
    );
  const at = validityDate(key, now);
  if (await key.isRevoked(undefined, undefined, at))
    return refuse("This key is revoked.");
  const expires = await key.getExpirationTime();
  if (expires instanceof Date && expires.getTime() <= now.getTime())
    return refuse("This key has expired.");
  const wanted = email.toLowerCase();
  const uid = key.users.find(
    (u) => u.userID?.email.toLowerCase() === wanted,
  )?.userID;
  if (
    !uid ||
    (await throws(() => key.getPrimaryUser(at, { email: uid.email })))
  )
    return refuse(
      `This key has no valid user ID for your address ${email}. Add that address to the key, or change your account's address.`,
    );
  if (await throws(() => key.getEncryptionKey(undefined, at)))
    return refuse(
      "This key has no valid encryption subkey (it may be for signing only, or its subkey expired or was revoked).",
    );
  return {
    ok: true,
    key,
    fingerprint: key.getFingerprint().toUpperCase(),
    expiresAt: expires instanceof Date ? expires : null,
  };
}

/**
 * One OpenPGP message, encrypted to the recipient and signed by the desk
 * (sign and encrypt in one, as RFC 3156 section 6.2 allows), armored.
 */
export async function encryptAndSign(
  text: string,
  recipient: openpgp.Key,
  signer: openpgp.PrivateKey,
  now: Date,
): Promise<string> {
  // Both keys valid then, even when one was made ahead of the desk's clock.
  const date = new Date(
    Math.max(
      validityDate(recipient, now).getTime(),
      validityDate(signer, now).getTime(),
    ),
  );
  return openpgp.encrypt({
    message: await openpgp.createMessage({ text, date }),
    encryptionKeys: recipient,
    signingKeys: signer,
    date,
    format: "armored",
  });
}
