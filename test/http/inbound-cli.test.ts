import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "mocha";
import { runCli } from "../../src/cli.js";
import { databaseFile, openDatabase } from "../../src/db/index.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import { replyAddressing } from "../../src/inbound/reply-tokens.js";
import { projectRoot } from "../../src/paths.js";
import { insertReport } from "../support/fixtures.js";
import {
  createUser,
  TEST_ENV,
  TestClock,
  testConfig,
} from "../support/harness.js";
import { composeMail } from "../support/inbound.js";

const DOMAIN = "desk.example.test";

describe("mail:receive: one message on standard input, sysexits answers", () => {
  let dataDir: string;
  let replyAddress: string;
  let researcherEmail: string;
  const env = (extra: Record<string, string> = {}) => ({
    ...TEST_ENV,
    DATA_DIR: dataDir,
    MAIL_DOMAIN: DOMAIN,
    ...extra,
  });
  const capture = () => {
    const lines: string[] = [];
    const out = {
      log: (...a: unknown[]) => lines.push(a.join(" ")),
      error: (...a: unknown[]) => lines.push(a.join(" ")),
    };
    return { lines, out: out as unknown as Console };
  };
  const receive = (
    raw: Buffer,
    args: string[] = [],
    extra: Record<string, string> = {},
  ) => {
    const { lines, out } = capture();
    return runCli(
      ["mail:receive", ...args],
      env(extra),
      out,
      Readable.from([raw]),
    ).then((code) => ({ code, lines }));
  };

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), "dd-mailcli-"));
    const config = testConfig(dataDir, { MAIL_DOMAIN: DOMAIN });
    const { db } = openDatabase(databaseFile(dataDir));
    await migrateToLatest(db);
    const clock = new TestClock();
    const researcher = await createUser({ db, config, clock }, "researcher");
    researcherEmail = researcher.email;
    const { id } = await insertReport(
      { db, config, clock },
      { reporterId: researcher.user.id, state: "acknowledged" },
    );
    replyAddress = (
      await replyAddressing(db, config, researcher.user.id, id, clock.now())
    ).address;
    await db.destroy();
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  const comments = async () => {
    const { db } = openDatabase(databaseFile(dataDir));
    try {
      return (
        await db
          .selectFrom("report_events")
          .select("body")
          .where("kind", "=", "comment")
          .execute()
      ).map((e) => e.body);
    } finally {
      await db.destroy();
    }
  };

  it("exits 0 for a posted reply and for its redelivery, posting it once", async () => {
    const raw = await composeMail({
      from: researcherEmail,
      to: replyAddress,
      subject: "Re: report",
      text: "Piped reply.",
      messageId: "<piped@mail.example.test>",
    });
    // As Postfix's pipe with flags=FR hands it over: an mbox From line and
    // a Return-Path first.
    const piped = Buffer.concat([
      Buffer.from(
        `From ${researcherEmail}  Mon Mar  2 09:00:00 2026\nReturn-Path: <${researcherEmail}>\n`,
      ),
      raw,
    ]);
    const first = await receive(piped, [
      "--sender",
      researcherEmail,
      "--recipient",
      replyAddress,
    ]);
    assert.equal(first.code, 0, first.lines.join("\n"));
    assert.match(first.lines.join("\n"), /posted/);
    // The recipient from Postfix's environment this time.
    const again = await receive(raw, [], {
      SENDER: researcherEmail,
      ORIGINAL_RECIPIENT: replyAddress,
    });
    assert.equal(again.code, 0);
    assert.match(again.lines.join("\n"), /duplicate/);
    assert.deepEqual(
      (await comments()).filter((b) => b === "Piped reply."),
      ["Piped reply."],
    );
  });

  it("exits 67 for an unknown token or recipient, 65 for malformed mail, 0 for an out-of-office", async () => {
    const unknown = await composeMail({
      from: researcherEmail,
      to: `reply+${"b".repeat(26)}@${DOMAIN}`,
      subject: "Re: report",
      text: "Guessing a token.",
    });
    // No --recipient: the To header says where it went.
    assert.equal(
      (await receive(unknown, ["--sender", researcherEmail])).code,
      67,
    );
    const elsewhere = await composeMail({
      from: researcherEmail,
      to: "someone@elsewhere.example.test",
      text: "Not for the desk.",
    });
    assert.equal((await receive(elsewhere)).code, 67);
    const malformed = await receive(Buffer.from("\x00\x01 not mail at all"));
    assert.equal(malformed.code, 65);
    const away = await composeMail({
      from: researcherEmail,
      to: replyAddress,
      subject: "Out of office",
      text: "I am away until Monday.",
      headers: { "Auto-Submitted": "auto-replied" },
    });
    const ignored = await receive(away, ["--recipient", replyAddress]);
    assert.equal(ignored.code, 0);
    assert.match(ignored.lines.join("\n"), /ignored/);
  });

  it("exits 75 when the database cannot be opened, so the MTA tries again", async () => {
    const raw = await composeMail({
      from: researcherEmail,
      to: replyAddress,
      text: "Later.",
    });
    const result = await receive(raw, ["--recipient", replyAddress], {
      // A path through a file: no directory can be made there.
      DATA_DIR: path.join(databaseFile(dataDir), "data"),
    });
    assert.equal(result.code, 75, result.lines.join("\n"));
  });

  it("runs as a real process from an MTA pipe", async function () {
    this.timeout(60_000);
    const raw = await composeMail({
      from: researcherEmail,
      to: replyAddress,
      subject: "Re: report",
      text: "Through a real pipe.",
      messageId: "<real-pipe@mail.example.test>",
    });
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        path.join(projectRoot, "src/cli.ts"),
        "mail:receive",
        "--sender",
        researcherEmail,
        "--recipient",
        replyAddress,
      ],
      { cwd: projectRoot, env: { ...process.env, ...env() } },
    );
    let output = "";
    child.stdout.on("data", (c) => (output += c));
    child.stderr.on("data", (c) => (output += c));
    child.stdin.end(raw);
    const code = await new Promise<number | null>((resolve) =>
      child.on("close", resolve),
    );
    assert.equal(code, 0, output);
    assert.ok((await comments()).includes("Through a real pipe."));
  });
});
