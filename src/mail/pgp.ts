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
  if (await key.isRevoked(undefined, undefined, now))
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
    (await throws(() => key.getPrimaryUser(now, { email: uid.email })))
  )
    return refuse(
      `This key has no valid user ID for your address ${email}. Add that address to the key, or change your account's address.`,
    );
  if (await throws(() => key.getEncryptionKey(undefined, now)))
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
  return openpgp.encrypt({
    message: await openpgp.createMessage({ text, date: now }),
    encryptionKeys: recipient,
    signingKeys: signer,
    date: now,
    format: "armored",
  });
}
