import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * GnuPG, the independent OpenPGP implementation the tests talk to: one
 * temporary home per person, no passphrases, nothing interactive.
 */
export class Gpg {
  readonly home = mkdtempSync(path.join(os.tmpdir(), "dd-gpg-"));

  run(args: string[], input?: string | Buffer) {
    const result = spawnSync(
      "/usr/bin/gpg",
      [
        "--homedir",
        this.home,
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "--status-fd",
        "2",
        ...args,
      ],
      { input, maxBuffer: 10 * 1024 * 1024 },
    );
    return {
      status: result.status,
      stdout: result.stdout,
      stderr: result.stderr.toString(),
    };
  }

  /** Like run, but a failure fails the test with gpg's own words. */
  ok(args: string[], input?: string | Buffer): Buffer {
    const r = this.run(args, input);
    if (r.status !== 0)
      throw new Error(`gpg ${args.join(" ")} failed:\n${r.stderr}`);
    return r.stdout;
  }

  /**
   * A new key for `uid` ("Name <address>"), returns its fingerprint.
   * `algo` "ed25519" with usage "sign" makes a key that cannot encrypt;
   * `fakedTime` makes it in the past.
   */
  generate(
    uid: string,
    options: {
      algo?: string;
      usage?: string;
      expire?: string;
      fakedTime?: string;
    } = {},
  ): string {
    const faked = options.fakedTime
      ? ["--faked-system-time", `${options.fakedTime}!`]
      : [];
    const created = this.run([
      ...faked,
      "--quick-gen-key",
      uid,
      options.algo ?? "future-default",
      options.usage ?? "default",
      options.expire ?? "never",
    ]);
    const fingerprint = /KEY_CREATED \w ([0-9A-F]{40})/.exec(created.stderr);
    if (created.status !== 0 || !fingerprint)
      throw new Error(`gpg could not make a key:\n${created.stderr}`);
    return fingerprint[1]!;
  }

  exportPublic(fingerprint: string): string {
    return this.ok(["--armor", "--export", fingerprint]).toString();
  }

  exportSecret(fingerprint: string): string {
    return this.ok(["--armor", "--export-secret-keys", fingerprint]).toString();
  }

  /** Imports the revocation certificate gpg made with the key. */
  revoke(fingerprint: string) {
    const cert = readFileSync(
      path.join(this.home, "openpgp-revocs.d", `${fingerprint}.rev`),
      "utf8",
    ).replace(/^:-----BEGIN/m, "-----BEGIN");
    this.ok(["--import"], cert);
  }

  /** Decrypts; `status` has gpg's machine-readable lines (VALIDSIG …). */
  decrypt(armored: string) {
    const r = this.run(["--decrypt"], armored);
    return { ok: r.status === 0, plain: r.stdout, status: r.stderr };
  }

  remove() {
    rmSync(this.home, { recursive: true, force: true });
  }
}
