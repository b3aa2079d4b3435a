/**
 * The desk's own OpenPGP key pair: it signs the encrypted mail the desk
 * sends, and its public half is published (/.well-known/openpgpkey.asc,
 * security.txt, the report form) for people who want to write to the desk
 * encrypted. Given by PGP_PRIVATE_KEY_FILE, or generated at first start into
 * DATA_DIR/pgp/desk.key (readable by the app's user only).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as openpgp from "openpgp";
import { ConfigError, mailFromAddress, type Config } from "../config.js";

export interface DeskKey {
  privateKey: openpgp.PrivateKey;
  /** The armored public key, as served. */
  publicArmored: string;
  /** Upper-case hex. */
  fingerprint: string;
}

/** Where the public key is served (also at /pgp-key.asc). */
export const DESK_KEY_PATH = "/.well-known/openpgpkey.asc";

/** Where the generated key lives (back this file up with the database). */
export function generatedKeyFile(dataDir: string): string {
  return path.join(dataDir, "pgp", "desk.key");
}

async function generate(config: Config, file: string): Promise<string> {
  const { privateKey } = await openpgp.generateKey({
    // Ed25519 and Curve25519 in v4 keys: every OpenPGP implementation in
    // use reads them (gpg 2.2 included), unlike RFC 9580's v6 keys.
    type: "ecc",
    userIDs: [
      { name: "Disclosure Desk", email: mailFromAddress(config.mailFrom) },
    ],
    ...(config.pgp.passphrase && { passphrase: config.pgp.passphrase }),
    format: "armored",
  });
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // "wx": two processes starting at once never overwrite each other's key.
  writeFileSync(file, privateKey, { mode: 0o600, flag: "wx" });
  return privateKey;
}

async function load(config: Config): Promise<DeskKey> {
  const file = config.pgp.privateKeyFile ?? generatedKeyFile(config.dataDir);
  const armored =
    config.pgp.privateKeyFile || existsSync(file)
      ? readFileSync(file, "utf8")
      : await generate(config, file);
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: armored });
  } catch {
    throw new ConfigError(
      `Invalid configuration:\n  PGP_PRIVATE_KEY_FILE: ${file} is not an armored OpenPGP private key`,
    );
  }
  if (!key.isDecrypted()) {
    try {
      key = await openpgp.decryptKey({
        privateKey: key,
        passphrase: config.pgp.passphrase ?? "",
      });
    } catch {
      throw new ConfigError(
        `Invalid configuration:\n  PGP_PASSPHRASE: does not unlock the desk's key in ${file}`,
      );
    }
  }
  return {
    privateKey: key,
    publicArmored: key.toPublic().armor(),
    fingerprint: key.getFingerprint().toUpperCase(),
  };
}

const loaded = new Map<string, Promise<DeskKey>>();

/** The desk's key, read (or generated) once per process and key file. */
export function deskKey(config: Config): Promise<DeskKey> {
  const id = `${config.pgp.privateKeyFile ?? config.dataDir}`;
  let key = loaded.get(id);
  if (!key) {
    key = load(config);
    // A failure is not kept: the next call tries again.
    key.catch(() => loaded.delete(id));
    loaded.set(id, key);
  }
  return key;
}
