import assert from "node:assert/strict";
import { once } from "node:events";
import { readdirSync, rmSync, watch, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import net, { type AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "mocha";
import supertest from "supertest";
import { SESSION_COOKIE } from "../../src/app.js";
import {
  createTestContext,
  createUser,
  csrfFrom,
  shown,
  TEST_PASSWORD,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { reportFields, reportIdFrom } from "../support/reports.js";

const B = "----dd-upload-test";
const field = (name: string, value: string) =>
  `--${B}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
const fileHead = (name: string) =>
  `--${B}\r\nContent-Disposition: form-data; name="attachments"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\n`;

/** A signed-in researcher as raw HTTP sees it: the session cookie and its CSRF token. */
interface RawSession {
  cookie: string;
  csrf: string;
}

const cookieOf = (res: supertest.Response) =>
  ([] as string[])
    .concat(res.headers["set-cookie"] ?? [])
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`))
    ?.split(";")[0];

async function signInRaw(ctx: TestContext, who: TestUser): Promise<RawSession> {
  const page = await supertest(ctx.app).get("/login");
  const res = await supertest(ctx.app)
    .post("/login")
    .set("Cookie", cookieOf(page)!)
    .type("form")
    .send({
      _csrf: csrfFrom(page.text),
      email: who.email,
      password: TEST_PASSWORD,
    });
  assert.equal(res.status, 303);
  const cookie = cookieOf(res)!;
  const account = await supertest(ctx.app)
    .get("/account")
    .set("Cookie", cookie);
  return { cookie, csrf: csrfFrom(account.text) };
}

/**
 * Sends the head of a request over a raw socket, declaring a body far larger
 * than what follows, then 64 KB of a file; once the server has started
 * writing that file into `tmp` (or has answered without reading it), drops
 * the connection. Returns whether a file was started.
 */
async function abortUpload(
  port: number,
  tmp: string,
  url: string,
  headers: Record<string, string>,
  prefix: string,
): Promise<boolean> {
  const declared = 1024 * 1024;
  const chunk = "x".repeat(64 * 1024);
  let fileStarted = false;
  let settle!: () => void;
  const settled = new Promise<void>((r) => (settle = r));
  const watcher = watch(tmp, (_event, name) => {
    if (name?.startsWith("marker-")) return;
    fileStarted = true;
    settle();
  });
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  socket.on("data", () => settle());
  await once(socket, "connect");
  socket.write(
    `POST ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${B}\r\n` +
      `Content-Length: ${declared}\r\n` +
      Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("") +
      "\r\n" +
      prefix +
      chunk,
  );
  await settled;
  watcher.close();
  socket.destroy();
  await once(socket, "close");
  return fileStarted;
}

/** Waits, however long it takes, until the condition holds (the test's timeout bounds it). */
async function until(condition: () => boolean) {
  while (!condition()) await new Promise((r) => setTimeout(r, 10));
}

/**
 * The names of the files created in `dir` while `action` ran. Events arrive in
 * order, so once a marker written afterwards is reported, every earlier
 * creation has been reported too.
 */
async function filesCreatedDuring(
  dir: string,
  action: () => Promise<unknown>,
): Promise<string[]> {
  const seen: string[] = [];
  const marker = `marker-${process.hrtime.bigint()}`;
  let markerSeen!: () => void;
  const markerReported = new Promise<void>((r) => (markerSeen = r));
  const watcher = watch(dir, (_event, name) => {
    if (name === marker) return markerSeen();
    // Earlier markers' removals may still be reported.
    if (name?.startsWith("marker-")) return;
    if (name && !seen.includes(name)) seen.push(name);
  });
  try {
    await action();
    writeFileSync(path.join(dir, marker), "");
    await markerReported;
  } finally {
    watcher.close();
    rmSync(path.join(dir, marker), { force: true });
  }
  return seen;
}

describe("multipart uploads", () => {
  let ctx: TestContext;
  let server: Server;
  let port: number;
  let tmp: string;
  let researcher: TestUser;
  let session: RawSession;
  let reportId: string;

  before(async () => {
    ctx = await createTestContext();
    tmp = path.join(ctx.dataDir, "tmp");
    server = ctx.app.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
    researcher = await createUser(ctx, "researcher");
    session = await signInRaw(ctx, researcher);
    let req = supertest(ctx.app)
      .post("/reports/new")
      .set("Cookie", session.cookie)
      .field("_csrf", session.csrf);
    for (const [k, v] of Object.entries(reportFields()))
      for (const x of Array.isArray(v) ? v : [v]) req = req.field(k, x);
    reportId = reportIdFrom((await req).headers.location);
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    await ctx.close();
  });

  const stillAnswers = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(res.status, 200);
  };
  const tmpIsEmpty = () =>
    readdirSync(tmp).filter((f) => !f.startsWith("marker-")).length === 0;

  it("survives a client that drops a multipart POST to /login mid-file, and keeps no file", async () => {
    const started = await abortUpload(
      port,
      tmp,
      "/login",
      {},
      fileHead("proof.txt"),
    );
    assert.equal(started, false, "a file was written for /login");
    await stillAnswers();
    await until(tmpIsEmpty);
    await stillAnswers();
  });

  for (const route of ["/reports/new", "/reports/:id/attachments"]) {
    it(`survives a signed-in upload to ${route} dropped mid-file, and removes the partial file`, async () => {
      const url = route.replace(":id", reportId);
      const started = await abortUpload(
        port,
        tmp,
        url,
        { Cookie: session.cookie },
        field("_csrf", session.csrf) + fileHead("proof.txt"),
      );
      assert.ok(started, "the upload had begun");
      await stillAnswers();
      await until(tmpIsEmpty);
      await stillAnswers();
    });
  }

  const multipart = (url: string, cookie: string | null, csrf?: string) => {
    let req = supertest(ctx.app).post(url);
    if (cookie) req = req.set("Cookie", cookie);
    if (csrf !== undefined) req = req.field("_csrf", csrf);
    return req
      .field("title", "x")
      .attach("attachments", Buffer.from("a".repeat(200_000)), "proof.txt");
  };

  for (const route of ["/reports/new", "/reports/:id/attachments"]) {
    it(`refuses a multipart POST to ${route} without a valid CSRF token before writing any file`, async () => {
      const url = route.replace(":id", reportId);
      for (const csrf of [undefined, "", session.csrf + "x"]) {
        let res!: supertest.Response;
        const written = await filesCreatedDuring(tmp, async () => {
          res = await multipart(url, session.cookie, csrf);
        });
        assert.equal(res.status, 403, `_csrf=${csrf}`);
        assert.match(res.text, /did not come from this site/);
        assert.deepEqual(written, [], `_csrf=${csrf}`);
      }
    });

    it(`refuses a signed-out multipart POST to ${route} without writing any file`, async () => {
      const url = route.replace(":id", reportId);
      const page = await supertest(ctx.app).get("/login");
      const anonymousCookie = cookieOf(page)!;
      for (const [cookie, csrf] of [
        [null, undefined],
        [anonymousCookie, csrfFrom(page.text)],
      ] as const) {
        let res!: supertest.Response;
        const written = await filesCreatedDuring(tmp, async () => {
          res = await multipart(url, cookie, csrf);
        });
        assert.ok(
          res.status === 403 ||
            (res.status === 303 && res.headers.location === "/login"),
          `${url} answered ${res.status}`,
        );
        assert.deepEqual(written, []);
      }
    });
  }

  it("refuses a multipart POST to a route that takes no files, without writing any file", async () => {
    for (const url of ["/login", `/reports/${reportId}/comments`, "/logout"]) {
      let res!: supertest.Response;
      const written = await filesCreatedDuring(tmp, async () => {
        res = await multipart(url, session.cookie, session.csrf);
      });
      assert.equal(res.status, 403, url);
      assert.deepEqual(written, [], url);
    }
    // The multipart "sign-out" above did not end the session.
    const account = await supertest(ctx.app)
      .get("/account")
      .set("Cookie", session.cookie);
    assert.equal(account.status, 200);
  });

  it("still takes a signed-in upload with its token, and removes its temporary file", async () => {
    const res = await supertest(ctx.app)
      .post(`/reports/${reportId}/attachments`)
      .set("Cookie", session.cookie)
      .field("_csrf", session.csrf)
      .attach("attachments", Buffer.from("proof of concept\n"), "proof.txt");
    assert.equal(res.status, 303);
    await until(tmpIsEmpty);
    const page = await supertest(ctx.app)
      .get(`/reports/${reportId}`)
      .set("Cookie", session.cookie);
    assert.match(page.text, /proof\.txt/);
  });

  it("keeps a non-ASCII file name as typed (résumé.txt, not rÃ©sumÃ©.txt)", async () => {
    const res = await supertest(ctx.app)
      .post(`/reports/${reportId}/attachments`)
      .set("Cookie", session.cookie)
      .field("_csrf", session.csrf)
      .attach("attachments", Buffer.from("curriculum vitae\n"), "résumé.txt");
    assert.equal(res.status, 303);
    const page = await supertest(ctx.app)
      .get(`/reports/${reportId}`)
      .set("Cookie", session.cookie);
    const link = new RegExp(
      `href="(/reports/${reportId}/attachments/[^"]+)">([^<]*sum[^<]*)</a>`,
    ).exec(shown(page.text));
    assert.ok(link, "the file is listed");
    assert.equal(link[2], "résumé.txt");
    const download = await supertest(ctx.app)
      .get(link[1]!)
      .set("Cookie", session.cookie);
    assert.equal(download.status, 200);
    const encoded = /filename\*=UTF-8''([^;]+)/.exec(
      download.headers["content-disposition"] ?? "",
    )?.[1];
    assert.equal(decodeURIComponent(encoded ?? ""), "résumé.txt");
  });
});
