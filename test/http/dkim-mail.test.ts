import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "mocha";
import { ConfigError } from "../../src/config.js";
import { enqueueMail } from "../../src/mail/outbox.js";
import { createTransport } from "../../src/mail/transport.js";
import { createMailWorker } from "../../src/mail/worker.js";
import { createTestContext, testConfig } from "../support/harness.js";
import { TestSmtpServer } from "../support/smtp.js";

describe("DKIM signing of outgoing mail", () => {
  let smtp: TestSmtpServer;
  let dir: string;
  let keyFile: string;
  before(async () => {
    smtp = await new TestSmtpServer().start();
    dir = mkdtempSync(path.join(os.tmpdir(), "dd-dkim-"));
    keyFile = path.join(dir, "dkim.pem");
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }));
  });
  after(async () => {
    await smtp.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("signs with the selector, for the domain of MAIL_FROM's address", async () => {
    const ctx = await createTestContext({
      env: {
        SMTP_URL: smtp.url,
        MAIL_FROM: "Disclosure Desk <desk@cert.example.org>",
        DKIM_PRIVATE_KEY_FILE: keyFile,
        DKIM_SELECTOR: "dd2026",
      },
    });
    const worker = createMailWorker({
      ...ctx.deps,
      transport: createTransport(ctx.config, ctx.deps.logger),
    });
    try {
      await enqueueMail(ctx.db, ctx.deps, {
        template: "setup",
        to: { address: "admin@example.test" },
        data: { link: "http://localhost:3000/setup/x" },
      });
      await worker.runOnce();
      const [mail] = smtp.to("admin@example.test");
      const signature = mail!.headerLines.find(
        (h) => h.key === "dkim-signature",
      )!.line;
      assert.match(signature, /\bs=dd2026;/);
      assert.match(signature, /\bd=cert\.example\.org;/);
      assert.match(signature, /\ba=rsa-sha256;/);
      assert.match(signature, /\bb=[A-Za-z0-9+/=\s]{300,}/);
    } finally {
      await worker.stop();
      await ctx.close();
    }
  });

  it("a half-given DKIM setting stops the app with a message naming it", () => {
    assert.throws(
      () => testConfig(dir, { DKIM_SELECTOR: "dd2026" }),
      (err: Error) =>
        err instanceof ConfigError &&
        /DKIM_PRIVATE_KEY_FILE, DKIM_SELECTOR: give both/.test(err.message),
    );
    assert.throws(
      () => testConfig(dir, { PGP_PRIVATE_KEY_FILE: "/nonexistent/desk.key" }),
      (err: Error) =>
        err instanceof ConfigError &&
        /PGP_PRIVATE_KEY_FILE: no such file/.test(err.message),
    );
  });
});
