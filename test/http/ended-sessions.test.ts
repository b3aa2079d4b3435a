import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { after, before, describe, it } from "mocha";
import supertest from "supertest";
import { SESSION_COOKIE } from "../../src/app.js";
import {
  anonymous,
  createTestContext,
  createUser,
  csrfFrom,
  signedIn,
  TEST_PASSWORD,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import {
  reportFields,
  reportIdFrom,
  SCREENSHOT,
  submitReport,
} from "../support/reports.js";

/**
 * A session ended while one of its requests was still in flight (a slow
 * upload) must stay ended when that request finishes: the request loaded the
 * session before it was ended and saves it afterwards.
 */
describe("an ended session never comes back", () => {
  let ctx: TestContext;
  let server: http.Server;
  let port: number;
  /** Called when the app starts reading the next upload's body. */
  let onBodyRead: (() => void) | null = null;

  before(async () => {
    ctx = await createTestContext();
    server = http.createServer(ctx.app);
    // The body is read only after the session and the user are loaded, so
    // "the app reads the body" means "the session is in the request's hands".
    server.prependListener("request", (req: http.IncomingMessage) => {
      if (req.url?.endsWith("/attachments")) {
        const signal = onBodyRead;
        onBodyRead = null;
        req.once("resume", () => signal?.());
      }
    });
    await new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", resolve),
    );
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    // An upload left unfinished by a failed test must not keep it open.
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await ctx.close();
  });

  /** The session cookie a browser holds, as "name=value", and its session id. */
  async function cookieOf(browser: Browser) {
    const res = await browser.agent.get("/account");
    assert.equal(res.status, 200);
    const cookie = ([] as string[])
      .concat(res.headers["set-cookie"] ?? [])
      .find((c) => c.startsWith(`${SESSION_COOKIE}=`))
      ?.split(";")[0];
    assert.ok(cookie, "the session cookie is sent");
    browser.csrf = csrfFrom(res.text);
    const value = decodeURIComponent(cookie.slice(SESSION_COOKIE.length + 1));
    const sid = value.slice(2, value.lastIndexOf("."));
    return { cookie, sid };
  }

  const sessionExists = async (sid: string) =>
    (await ctx.db
      .selectFrom("sessions")
      .select("sid")
      .where("sid", "=", sid)
      .executeTakeFirst()) !== undefined;

  /**
   * Starts an upload to one of the researcher's reports over a raw socket:
   * the headers and the first 20 bytes of the body, then nothing until
   * `finish` sends the rest and reads the answer's status line.
   */
  async function startUpload(browser: Browser, reportId: string) {
    const { cookie } = await cookieOf(browser);
    const boundary = "----in-flight-upload";
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\n${browser.csrf}\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="attachments"; filename="shot.png"\r\n` +
          "Content-Type: image/png\r\n\r\n",
      ),
      readFileSync(SCREENSHOT),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const socket = net.connect(port, "127.0.0.1");
    let received = "";
    socket.on("data", (chunk) => (received += chunk.toString("latin1")));
    const closed = new Promise<void>((resolve) => socket.on("close", resolve));
    const bodyRead = new Promise<void>((resolve) => (onBodyRead = resolve));
    socket.write(
      `POST /reports/${reportId}/attachments HTTP/1.1\r\n` +
        `Host: 127.0.0.1:${port}\r\n` +
        `Cookie: ${cookie}\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\n` +
        `Content-Length: ${body.length}\r\n` +
        "Connection: close\r\n\r\n",
    );
    socket.write(body.subarray(0, 20));
    await bodyRead;
    return {
      async finish() {
        socket.write(body.subarray(20));
        await closed;
        return received.split("\r\n")[0] ?? "";
      },
    };
  }

  /** A researcher signed in twice, with a report to upload files to. */
  async function researcherOnTwoDevices() {
    const who = await createUser(ctx, "researcher");
    const laptop = await signedIn(ctx, who);
    const stolen = await signedIn(ctx, who);
    const filed = await submitReport(laptop, reportFields());
    assert.equal(filed.status, 303);
    return {
      who,
      laptop,
      stolen,
      reportId: reportIdFrom(filed.headers.location),
    };
  }

  /** Runs `end` while an upload of `victim` is in flight, then checks the session stays ended. */
  async function endsDuringUpload(
    victim: Browser,
    reportId: string,
    end: () => Promise<void>,
  ) {
    const { cookie, sid } = await cookieOf(victim);
    const upload = await startUpload(victim, reportId);
    await end();
    assert.equal(await sessionExists(sid), false, "ended");
    assert.match(await upload.finish(), /^HTTP\/1\.1 (303|422)/);
    assert.equal(await sessionExists(sid), false, "still ended");
    const after = await supertest(ctx.app)
      .get("/account")
      .set("Cookie", cookie);
    assert.equal(after.status, 303);
    assert.equal(after.headers.location, "/login");
  }

  it("the in-flight request itself works: its upload is saved and the session kept", async () => {
    const { stolen, reportId } = await researcherOnTwoDevices();
    const { sid } = await cookieOf(stolen);
    const upload = await startUpload(stolen, reportId);
    assert.equal(await upload.finish(), "HTTP/1.1 303 See Other");
    assert.equal(await sessionExists(sid), true);
    const page = await stolen.agent.get(`/reports/${reportId}`);
    assert.match(page.text, /1 file attached/);
  });

  it("sign out everywhere else", async () => {
    const { laptop, stolen, reportId } = await researcherOnTwoDevices();
    await endsDuringUpload(stolen, reportId, async () => {
      await laptop.refreshCsrf("/account");
      const res = await laptop.post("/account/sessions/end-others");
      assert.equal(res.status, 303);
    });
    assert.equal((await laptop.agent.get("/account")).status, 200);
  });

  it("sign out", async () => {
    const { stolen, reportId } = await researcherOnTwoDevices();
    await endsDuringUpload(stolen, reportId, async () => {
      const res = await stolen.post("/logout");
      assert.equal(res.status, 303);
    });
  });

  it("password change", async () => {
    const { laptop, stolen, reportId } = await researcherOnTwoDevices();
    await endsDuringUpload(stolen, reportId, async () => {
      await laptop.refreshCsrf("/account");
      const res = await laptop.post("/account/password", {
        current: TEST_PASSWORD,
        password: "another long passphrase 7",
        confirm: "another long passphrase 7",
      });
      assert.equal(res.status, 303);
    });
  });

  it("password reset", async () => {
    const { who, stolen, reportId } = await researcherOnTwoDevices();
    await endsDuringUpload(stolen, reportId, async () => {
      const browser = await anonymous(ctx);
      await browser.refreshCsrf("/password/forgot");
      await browser.post("/password/forgot", { email: who.email });
      const token = await mailedToken(who, "/password/set?token=");
      await browser.refreshCsrf(`/password/set?token=${token}`);
      const res = await browser.post("/password/set", {
        token,
        password: "a reset long passphrase 8",
        confirm: "a reset long passphrase 8",
      });
      assert.equal(res.status, 303);
    });
  });

  it("email change", async () => {
    const { laptop, stolen, reportId } = await researcherOnTwoDevices();
    const newEmail = `moved-${reportId.toLowerCase()}@example.test`;
    await endsDuringUpload(stolen, reportId, async () => {
      await laptop.refreshCsrf("/account");
      const ask = await laptop.post("/account/email", {
        email: newEmail,
        password: TEST_PASSWORD,
      });
      assert.equal(ask.status, 303);
      const mail = await ctx.db
        .selectFrom("outbox")
        .select("text_body")
        .where("to_address", "=", newEmail)
        .executeTakeFirstOrThrow();
      const token = /verify-email\?token=([^\s"<]+)/.exec(mail.text_body)![1]!;
      await laptop.refreshCsrf(`/verify-email?token=${token}`);
      const confirm = await laptop.post("/verify-email", { token });
      assert.equal(confirm.status, 303);
    });
    assert.equal((await laptop.agent.get("/account")).status, 200);
  });

  it("role change by an admin", async () => {
    const { who, stolen, reportId } = await researcherOnTwoDevices();
    const admin = await signedIn(ctx, await createUser(ctx, "admin"));
    await endsDuringUpload(stolen, reportId, async () => {
      const res = await admin.post(`/admin/users/${who.user.publicId}/role`, {
        role: "org_contact",
      });
      assert.equal(res.status, 303);
    });
  });

  it("disable", async () => {
    const { who, stolen, reportId } = await researcherOnTwoDevices();
    const admin = await signedIn(ctx, await createUser(ctx, "admin"));
    await endsDuringUpload(stolen, reportId, async () => {
      const res = await admin.post(`/admin/users/${who.user.publicId}/disable`);
      assert.equal(res.status, 303);
    });
  });

  /** The token of the newest mailed link to a path. */
  async function mailedToken(who: TestUser, pathPrefix: string) {
    const mail = await ctx.db
      .selectFrom("outbox")
      .select("text_body")
      .where("to_user_id", "=", who.user.id)
      .where("text_body", "like", `%${pathPrefix}%`)
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();
    const at = mail.text_body.indexOf(pathPrefix);
    assert.ok(at >= 0, `a link to ${pathPrefix}`);
    return /^[^\s"<]+/.exec(mail.text_body.slice(at + pathPrefix.length))![0];
  }
});
