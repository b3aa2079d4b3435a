import assert from "node:assert/strict";
import { simpleParser } from "mailparser";
import { after, before, describe, it } from "mocha";
import { deskKey } from "../../src/mail/desk-key.js";
import { ingestMail } from "../../src/inbound/ingest.js";
import { openPgpMail } from "../../src/inbound/pgp.js";
import { findInboundById } from "../../src/inbound/repository.js";
import { savePgpKey } from "../../src/users/pgp-key-repository.js";
import { Gpg } from "../support/gpg.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  TestClock,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { noDns } from "../support/inbound.js";

const SECRET =
  "The IDOR is in /appointments/{id}: change the id, see another patient.";

/** A mail as a client writes it: CRLF lines, the given body after the headers. */
function mail(from: string, headers: string[], body: string): Buffer {
  return Buffer.from(
    [
      `From: Rita Researcher <${from}>`,
      "To: desk@localhost",
      "Subject: Re: [DD-2026-0001] more information",
      "Message-ID: <pgp-1@example.org>",
      "Date: Sun, 06 Dec 2026 23:00:00 +0000",
      "MIME-Version: 1.0",
      ...headers,
      "",
      body.replace(/\r?\n/g, "\r\n"),
    ].join("\r\n"),
  );
}

/** RFC 3156 section 4: the version part and the armored message. */
function pgpMime(from: string, armored: string): Buffer {
  const b = "----enc-boundary-42";
  return mail(
    from,
    [
      `Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="${b}"`,
    ],
    [
      "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)",
      `--${b}`,
      "Content-Type: application/pgp-encrypted",
      "Content-Description: PGP/MIME version identification",
      "",
      "Version: 1",
      "",
      `--${b}`,
      'Content-Type: application/octet-stream; name="encrypted.asc"',
      "Content-Description: OpenPGP encrypted message",
      'Content-Disposition: inline; filename="encrypted.asc"',
      "",
      armored,
      `--${b}--`,
      "",
    ].join("\n"),
  );
}

describe("inbound OpenPGP mail, with GnuPG as the sender", () => {
  let ctx: TestContext;
  let researcher: TestUser;
  let gpg: Gpg;
  let senderKey: string;
  let deskFpr: string;

  before(async () => {
    // gpg makes its keys now: the app's clock must not be before them.
    ctx = await createTestContext({ clock: new TestClock(Date.now()) });
    researcher = await createUser(ctx, "researcher");
    gpg = new Gpg();
    senderKey = gpg.generate(`Rita Researcher <${researcher.email}>`);
    await savePgpKey(
      ctx.db,
      researcher.user.id,
      {
        armored: gpg.exportPublic(senderKey),
        fingerprint: senderKey,
        expiresAt: null,
      },
      ctx.clock.now(),
    );
    const desk = await deskKey(ctx.config);
    gpg.ok(["--import"], desk.publicArmored);
    deskFpr = desk.fingerprint;
  });
  after(async () => {
    await ctx.close();
    gpg.remove();
  });

  /** gpg signs with the sender's key and encrypts to the desk, armored. */
  function sealed(plain: string, who = gpg, signer = senderKey): string {
    return who
      .ok(
        [
          "--armor",
          "--trust-model",
          "always",
          "--sign",
          "--local-user",
          signer,
          "--encrypt",
          "--recipient",
          deskFpr,
        ],
        plain,
      )
      .toString();
  }

  it("decrypts PGP/MIME and names the sender's key that signed it", async () => {
    const inner = [
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: 8bit",
      "",
      `${SECRET}\r\nGrüße, Rita`,
      "",
    ].join("\r\n");
    const opened = await openPgpMail(
      ctx.deps,
      pgpMime(researcher.email, sealed(inner)),
    );
    assert.ok(!("held" in opened), JSON.stringify(opened));
    assert.equal(opened.encrypted, true);
    assert.equal(opened.signedBy, senderKey);
    assert.equal(opened.note, null);
    const parsed = await simpleParser(opened.raw);
    assert.equal(parsed.messageId, "<pgp-1@example.org>");
    assert.equal(parsed.subject, "Re: [DD-2026-0001] more information");
    assert.equal(parsed.from?.value[0]?.address, researcher.email);
    assert.equal(parsed.text?.trim(), `${SECRET}\nGrüße, Rita`);
    assert.equal(parsed.attachments.length, 0);
  });

  it("decrypts inline PGP in the text, keeping what is around it", async () => {
    const raw = mail(
      researcher.email,
      ["Content-Type: text/plain; charset=us-ascii"],
      `Hello desk,\n\n${sealed("Grüße: " + SECRET)}\n`,
    );
    const opened = await openPgpMail(ctx.deps, raw);
    assert.ok(!("held" in opened), JSON.stringify(opened));
    assert.equal(opened.encrypted, true);
    assert.equal(opened.signedBy, senderKey);
    const parsed = await simpleParser(opened.raw);
    assert.equal(parsed.messageId, "<pgp-1@example.org>");
    assert.match(parsed.text ?? "", /^Hello desk,/);
    assert.ok(parsed.text?.includes("Grüße: " + SECRET), parsed.text);
    assert.ok(!parsed.text?.includes("BEGIN PGP MESSAGE"));
  });

  it("decrypts mail signed by a key that is not the sender's, without naming a signer", async () => {
    const stranger = new Gpg();
    try {
      const strangerKey = stranger.generate(`Mallory <mallory@example.org>`);
      stranger.ok(["--import"], (await deskKey(ctx.config)).publicArmored);
      const opened = await openPgpMail(
        ctx.deps,
        mail(
          researcher.email,
          ["Content-Type: text/plain"],
          sealed(SECRET, stranger, strangerKey),
        ),
      );
      assert.ok(!("held" in opened));
      assert.equal(opened.encrypted, true);
      assert.equal(opened.signedBy, null);
      assert.match(opened.note ?? "", /did not verify/);
    } finally {
      stranger.remove();
    }
  });

  it("decrypts mail from a sender without a key on their account, unsigned", async () => {
    const plain = gpg
      .ok(
        ["--armor", "--trust-model", "always", "--encrypt", "-r", deskFpr],
        SECRET,
      )
      .toString();
    const opened = await openPgpMail(
      ctx.deps,
      mail("someone@example.org", ["Content-Type: text/plain"], plain),
    );
    assert.ok(!("held" in opened));
    assert.equal(opened.encrypted, true);
    assert.equal(opened.signedBy, null);
    assert.equal(opened.note, null);
    assert.equal((await simpleParser(opened.raw)).text?.trim(), SECRET);
  });

  it("holds, with the reason, what was encrypted to another key", async () => {
    const other = new Gpg();
    try {
      const otherKey = other.generate("Someone Else <else@example.org>");
      gpg.ok(["--import"], other.exportPublic(otherKey));
      const armored = gpg
        .ok(
          ["--armor", "--trust-model", "always", "--encrypt", "-r", otherKey],
          SECRET,
        )
        .toString();
      for (const raw of [
        pgpMime(researcher.email, armored),
        mail(researcher.email, ["Content-Type: text/plain"], armored),
      ]) {
        const opened = await openPgpMail(ctx.deps, raw);
        assert.ok("held" in opened, JSON.stringify(opened));
        assert.match(opened.held, /^could not decrypt: /);
      }
    } finally {
      other.remove();
    }
  });

  it("holds a broken armored block rather than dropping it", async () => {
    const opened = await openPgpMail(
      ctx.deps,
      mail(
        researcher.email,
        ["Content-Type: text/plain"],
        "-----BEGIN PGP MESSAGE-----\n\nnot base64 at all!!\n-----END PGP MESSAGE-----\n",
      ),
    );
    assert.ok("held" in opened);
    assert.match(opened.held, /^could not decrypt: /);
  });

  it("stores encrypted mail through ingestion as received, marked encrypted and signed", async () => {
    const raw = pgpMime(
      researcher.email,
      sealed(`Content-Type: text/plain\r\n\r\n${SECRET}\r\n`),
    )
      .toString()
      .replace("pgp-1@", "ingest-1@");
    const result = await ingestMail(
      { ...ctx.deps, dnsResolver: noDns },
      Buffer.from(raw),
      { from: researcher.email, recipients: ["nobody@localhost"] },
    );
    const stored = await findInboundById(ctx.db, result.inboundId!);
    assert.equal(stored!.messageId, "ingest-1@example.org");
    assert.equal(stored!.encrypted, true);
    assert.equal(stored!.signedBy, senderKey);
    // Kept as received: encrypted, not the decrypted text.
    assert.equal(stored!.raw.toString(), raw);
    assert.ok(!stored!.raw.toString().includes(SECRET));
    assert.doesNotMatch(stored!.reason ?? "", /could not decrypt/);
    // Staff read it decrypted on the Inbound mail page; the download is as received.
    const staff = await signedIn(ctx, await createUser(ctx, "triager"));
    const page = await staff.agent.get(`/admin/inbound/${stored!.id}`);
    assert.equal(page.status, 200);
    assert.ok(shown(page.text).includes(SECRET));
    assert.match(shown(page.text), /Decrypted with the desk/);
    assert.match(shown(page.text), /signed by/);
  });

  it("holds through ingestion what was encrypted to another key, with the reason", async () => {
    const other = new Gpg();
    try {
      const otherKey = other.generate("Someone Else <else2@example.org>");
      gpg.ok(["--import"], other.exportPublic(otherKey));
      const armored = gpg
        .ok(
          ["--armor", "--trust-model", "always", "--encrypt", "-r", otherKey],
          SECRET,
        )
        .toString();
      const raw = pgpMime(researcher.email, armored)
        .toString()
        .replace("pgp-1@", "ingest-2@");
      const result = await ingestMail(
        { ...ctx.deps, dnsResolver: noDns },
        Buffer.from(raw),
        { from: researcher.email, recipients: ["nobody@localhost"] },
      );
      assert.equal(result.outcome.kind, "held");
      const stored = await findInboundById(ctx.db, result.inboundId!);
      assert.equal(stored!.status, "held");
      assert.match(stored!.reason!, /^could not decrypt: /);
      assert.equal(stored!.raw.toString(), raw);
    } finally {
      other.remove();
    }
  });

  /** RFC 3156 section 5: a multipart/signed entity, signed by gpg (detached). */
  function signedEntity(text: string, textmode = false): string {
    const part = `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${text}\r\n`;
    const signature = gpg
      .ok(
        [
          "--armor",
          "--detach-sign",
          "--local-user",
          senderKey,
          ...(textmode ? ["--textmode"] : []),
        ],
        part,
      )
      .toString();
    const b = "----sig-boundary-7";
    return [
      `Content-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="${b}"`,
      "",
      "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)",
      `--${b}`,
      part,
      `--${b}`,
      'Content-Type: application/pgp-signature; name="signature.asc"',
      "",
      signature,
      `--${b}--`,
      "",
    ].join("\r\n");
  }

  /** A whole signed (not encrypted) message. */
  const signedMail = (entity: string) =>
    Buffer.from(
      [
        `From: Rita <${researcher.email}>`,
        "To: desk@localhost",
        "Subject: Re: signed",
        "Message-ID: <signed-1@example.org>",
        "MIME-Version: 1.0",
        entity,
      ].join("\r\n"),
    );

  it("verifies PGP/MIME signed first, then encrypted (RFC 3156 section 6.1)", async () => {
    const armored = gpg
      .ok(
        ["--armor", "--trust-model", "always", "--encrypt", "-r", deskFpr],
        signedEntity(`Grüße. ${SECRET}`, true),
      )
      .toString();
    const opened = await openPgpMail(
      ctx.deps,
      pgpMime(researcher.email, armored),
    );
    assert.ok(!("held" in opened), JSON.stringify(opened));
    assert.equal(opened.encrypted, true);
    assert.equal(opened.signedBy, senderKey, opened.note ?? "");
    const parsed = await simpleParser(opened.raw);
    assert.equal(parsed.text?.trim(), `Grüße. ${SECRET}`);
  });

  it("names the signer of signed mail that is not encrypted, even with LF line ends", async () => {
    for (const raw of [
      signedMail(signedEntity(SECRET)),
      Buffer.from(
        signedMail(signedEntity(SECRET)).toString().replace(/\r\n/g, "\n"),
      ),
    ]) {
      const opened = await openPgpMail(ctx.deps, raw);
      assert.ok(!("held" in opened));
      assert.equal(opened.encrypted, false);
      assert.equal(opened.signedBy, senderKey, opened.note ?? "");
      assert.equal((await simpleParser(opened.raw)).text?.trim(), SECRET);
    }
  });

  it("names nobody when the signed text was changed on the way", async () => {
    const tampered = signedMail(signedEntity(SECRET))
      .toString()
      .replace("IDOR", "XSS");
    const opened = await openPgpMail(ctx.deps, Buffer.from(tampered));
    assert.ok(!("held" in opened));
    assert.equal(opened.signedBy, null);
    assert.match(opened.note ?? "", /did not verify/);
  });

  it("passes plain mail through untouched", async () => {
    const raw = mail(researcher.email, ["Content-Type: text/plain"], SECRET);
    const opened = await openPgpMail(ctx.deps, raw);
    assert.ok(!("held" in opened));
    assert.equal(opened.encrypted, false);
    assert.equal(opened.signedBy, null);
    assert.ok(opened.raw.equals(raw));
  });
});
