import assert from "node:assert/strict";
import { createServer } from "node:net";
import SqliteDatabase from "better-sqlite3";
import { after, before, describe, it } from "mocha";
import nodemailer from "nodemailer";
import { databaseFile } from "../../src/db/index.js";
import { startApp, type RunningApp } from "../support/server-process.js";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe("the app receives mail on INBOUND_SMTP_PORT", function () {
  this.timeout(120_000);
  let app: RunningApp;
  let port: number;

  before(async () => {
    port = await freePort();
    app = await startApp({
      INBOUND_SMTP_PORT: String(port),
      INBOUND_LMTP: "true",
      MAIL_DOMAIN: "desk.example.test",
    });
  });
  after(() => app?.stop());

  it("starts the LMTP listener with the app, and what it receives is stored", async () => {
    // The listener opens just after the web server: wait for its log line.
    for (
      let i = 0;
      i < 100 && !app.log.some((l) => l.includes("Receiving mail"));
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    assert.ok(
      app.log.some((l) =>
        l.includes(`Receiving mail (LMTP) on 127.0.0.1:${port}`),
      ),
    );
    const info = await nodemailer
      .createTransport({
        host: "127.0.0.1",
        port,
        lmtp: true,
        ignoreTLS: true,
      } as nodemailer.TransportOptions)
      .sendMail({
        from: "someone@example.test",
        to: "reply@desk.example.test",
        subject: "Hello",
        text: "No token in here.",
        messageId: "<through-the-app@example.test>",
      });
    assert.match(info.response, /^250 OK held/);
    const db = new SqliteDatabase(databaseFile(app.dataDir), {
      readonly: true,
    });
    try {
      const row = db
        .prepare(
          "select status, reason from inbound_messages where message_id = ?",
        )
        .get("through-the-app@example.test") as {
        status: string;
        reason: string;
      };
      assert.equal(row.status, "held");
      assert.match(row.reason, /no reply token/);
    } finally {
      db.close();
    }
  });
});
