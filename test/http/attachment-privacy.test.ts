import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "mocha";
import { PDFDocument } from "pdf-lib";
import sharp from "sharp";
import {
  createTestContext,
  createUser,
  signedIn,
  type Browser,
  type TestContext,
} from "../support/harness.js";
import { addMember, createOrg } from "../support/fixtures.js";
import {
  reportFields,
  reportIdFrom,
  submitReport,
} from "../support/reports.js";

// What a researcher's camera, phone or PDF writer leaves in a file.
const NAME = "Rhea Searcher";
const ADDRESS = "12 Rue des Lilas";
const CITY = "Lyonnaise";
const PLANTED = [NAME, ADDRESS, CITY, "Rhea", "Searcher", "Lilas"];

/** exiftool, an independent reader, on a file: its findings as one JSON object. */
function exif(file: string): Record<string, unknown> {
  const out = execFileSync("exiftool", ["-j", "-n", "-a", "-G1", file], {
    encoding: "utf8",
  });
  return (JSON.parse(out) as Record<string, unknown>[])[0]!;
}

function exiftoolWrite(file: string, tags: string[]) {
  execFileSync("exiftool", ["-q", "-overwrite_original", ...tags, file]);
}

const gpsTags = (found: Record<string, unknown>) =>
  Object.keys(found).filter((k) => /GPS/i.test(k));

describe("attachments: what an organization learns from a file", () => {
  let ctx: TestContext;
  let researcher: Browser, triager: Browser, contact: Browser;
  let orgPublicId: string;
  const files: Record<string, string> = {};

  const at = (name: string) => path.join(ctx.dataDir, name);

  /** Files a report without revealing identity, and walks it to the organization. */
  async function fileAndNotify(
    uploads: { path: string; name: string }[],
    reveal = false,
  ): Promise<string> {
    const fields = reportFields({
      organization: orgPublicId,
      newOrganization: "",
      creditKind: "anonymous",
      creditHandle: "",
    });
    if (!reveal) delete (fields as Record<string, unknown>).revealIdentity;
    const res = await submitReport(researcher, fields, uploads);
    assert.equal(res.status, 303, res.text.slice(0, 2000));
    const id = reportIdFrom(res.headers.location);
    await triager.refreshCsrf(`/reports/${id}`);
    for (const name of ["acknowledge", "triage", "notify_vendor"]) {
      const step = await triager.post(`/reports/${id}/transition`, { name });
      assert.equal(step.status, 303, `${name}: ${step.status}`);
    }
    return id;
  }

  const links = (html: string) =>
    [
      ...html.matchAll(
        /href="(\/reports\/[^"]+\/attachments\/[^"]+)">([^<]*)</g,
      ),
    ].map((m) => ({ href: m[1]!, text: m[2]! }));

  async function download(who: Browser, href: string, as: string) {
    const res = await who.agent
      .get(href)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on("data", (c: Buffer) => chunks.push(c));
        r.on("end", () => cb(null, Buffer.concat(chunks)));
      });
    assert.equal(res.status, 200);
    const file = at(as);
    writeFileSync(file, res.body as Buffer);
    return { file, disposition: String(res.headers["content-disposition"]) };
  }

  before(async () => {
    ctx = await createTestContext();
    const org = await createOrg(ctx, "National Hospital Portal");
    orgPublicId = org.publicId;
    const contactUser = await createUser(ctx, "org_contact");
    await addMember(ctx, org.id, contactUser.user.id);
    researcher = await signedIn(
      ctx,
      await createUser(ctx, "researcher", { displayName: NAME }),
    );
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    contact = await signedIn(ctx, contactUser);
    await researcher.refreshCsrf("/reports/new");

    // A photo taken sideways (orientation 6), with the photographer's name,
    // home address and position in EXIF, XMP and IPTC, and a JPEG comment.
    files.jpeg = at("photo.jpg");
    await sharp({
      create: { width: 40, height: 20, channels: 3, background: "#c33" },
    })
      .jpeg()
      .toFile(files.jpeg);
    exiftoolWrite(files.jpeg, [
      `-EXIF:Artist=${NAME}`,
      `-EXIF:Copyright=${NAME}, ${ADDRESS}`,
      `-EXIF:ImageDescription=At home, ${ADDRESS}`,
      "-EXIF:Orientation#=6",
      "-GPSLatitude=45.7640",
      "-GPSLatitudeRef=N",
      "-GPSLongitude=4.8357",
      "-GPSLongitudeRef=E",
      `-XMP-dc:Creator=${NAME}`,
      `-XMP-iptcCore:CreatorAddress=${ADDRESS}`,
      `-XMP-photoshop:City=${CITY}`,
      `-IPTC:By-line=${NAME}`,
      `-IPTC:Sub-location=${ADDRESS}`,
      `-IPTC:City=${CITY}`,
      `-File:Comment=Taken by ${NAME}`,
    ]);
    // PNG text chunks (tEXt), an eXIf chunk and XMP (iTXt).
    files.png = at("screen.png");
    await sharp({
      create: { width: 20, height: 20, channels: 4, background: "#3c3" },
    })
      .png()
      .toFile(files.png);
    exiftoolWrite(files.png, [
      `-PNG:Author=${NAME}`,
      `-PNG:Comment=${ADDRESS}`,
      `-EXIF:Artist=${NAME}`,
      "-GPSLatitude=45.7640",
      "-GPSLatitudeRef=N",
      `-XMP-dc:Creator=${NAME}`,
    ]);
    // GIF comment and XMP; WebP EXIF and XMP.
    files.gif = at("clip.gif");
    await sharp({
      create: { width: 20, height: 20, channels: 3, background: "#33c" },
    })
      .gif()
      .toFile(files.gif);
    exiftoolWrite(files.gif, [
      `-Comment=${NAME}, ${ADDRESS}`,
      `-XMP-dc:Creator=${NAME}`,
    ]);
    files.webp = at("shot.webp");
    await sharp({
      create: { width: 20, height: 20, channels: 3, background: "#cc3" },
    })
      .webp()
      .toFile(files.webp);
    exiftoolWrite(files.webp, [
      `-EXIF:Artist=${NAME}`,
      "-GPSLatitude=45.7640",
      "-GPSLatitudeRef=N",
      `-XMP-dc:Creator=${NAME}`,
      `-XMP-iptcCore:CreatorAddress=${ADDRESS}`,
    ]);
    // A PDF with its document information and an XMP packet naming its author.
    const pdf = await PDFDocument.create();
    pdf.addPage([200, 100]).drawText("proof of concept", { x: 10, y: 50 });
    pdf.setAuthor(NAME);
    pdf.setTitle(`Report by ${NAME}, ${ADDRESS}`);
    pdf.setSubject(CITY);
    pdf.setKeywords([NAME]);
    pdf.setCreator(NAME);
    files.pdf = at("poc.pdf");
    writeFileSync(files.pdf, await pdf.save());
    exiftoolWrite(files.pdf, [
      `-XMP-dc:Creator=${NAME}`,
      `-XMP-pdf:Author=${NAME}`,
      `-XMP-iptcCore:CreatorAddress=${ADDRESS}`,
    ]);
    // The planted values really are there, read by the same reader.
    for (const kind of ["jpeg", "png", "gif", "webp", "pdf"]) {
      const found = JSON.stringify(exif(files[kind]!));
      assert.match(found, /Rhea Searcher/, `${kind} carries the name`);
    }
    assert.ok(gpsTags(exif(files.jpeg)).length > 0);
  });
  after(() => ctx.close());

  it("removes EXIF, XMP, IPTC, GPS, PNG/GIF/WebP text and PDF information before anyone downloads the file", async () => {
    const id = await fileAndNotify([
      { path: files.jpeg!, name: "Rhea Searcher at home.jpg" },
      { path: files.png!, name: "Rhea Searcher screen.png" },
      { path: files.gif!, name: "Rhea Searcher clip.gif" },
      { path: files.webp!, name: "Rhea Searcher shot.webp" },
      { path: files.pdf!, name: "Rhea Searcher poc.pdf" },
    ]);
    const page = await contact.agent.get(`/reports/${id}`);
    assert.equal(page.status, 200);
    const found = links(page.text);
    assert.equal(found.length, 5);
    for (const [i, link] of found.entries()) {
      const { file } = await download(contact, link.href, `download-${i}`);
      const read = exif(file);
      const text = JSON.stringify(read);
      for (const value of PLANTED)
        assert.ok(
          !text.includes(value),
          `${link.text} still says ${value}: ${text}`,
        );
      assert.deepEqual(gpsTags(read), [], `${link.text} keeps GPS`);
      // Nothing survives in the bytes either (a PDF's old revisions, unread chunks).
      const bytes = readFileSync(file).toString("latin1");
      for (const value of PLANTED)
        assert.ok(!bytes.includes(value), `${link.text} bytes hold ${value}`);
    }
    // The sideways photo was turned upright before its orientation tag went.
    const jpeg = exif(path.join(ctx.dataDir, "download-0"));
    assert.equal(jpeg["File:ImageWidth"], 20);
    assert.equal(jpeg["File:ImageHeight"], 40);
    // The PDF is still a PDF with its page.
    const pdf = await PDFDocument.load(
      readFileSync(path.join(ctx.dataDir, "download-4")),
    );
    assert.equal(pdf.getPageCount(), 1);
  });

  it("stores the cleaned bytes under their own hash", async () => {
    const rows = await ctx.db
      .selectFrom("attachments")
      .select(["sha256", "size"])
      .execute();
    assert.ok(rows.length > 0);
    for (const row of rows) {
      const stored = readFileSync(
        path.join(
          ctx.dataDir,
          "attachments",
          row.sha256.slice(0, 2),
          row.sha256,
        ),
      );
      assert.equal(stored.length, row.size);
      assert.ok(!stored.toString("latin1").includes(NAME));
    }
  });

  it("shows the organization neutral file names unless the researcher revealed who they are", async () => {
    const id = await fileAndNotify([
      { path: files.png!, name: "Rhea Searcher screen.png" },
      { path: files.pdf!, name: "Rhea-Searcher-poc.pdf" },
    ]);
    const orgPage = await contact.agent.get(`/reports/${id}`);
    assert.doesNotMatch(orgPage.text, /Rhea/);
    const orgLinks = links(orgPage.text);
    assert.deepEqual(
      orgLinks.map((l) => l.text),
      ["attachment-1.png", "attachment-2.pdf"],
    );
    const first = await download(contact, orgLinks[0]!.href, "org-1");
    assert.match(first.disposition, /^inline; filename="?attachment-1\.png"?$/);
    assert.doesNotMatch(first.disposition, /Rhea/);
    const second = await download(contact, orgLinks[1]!.href, "org-2");
    assert.match(
      second.disposition,
      /^attachment; filename="?attachment-2\.pdf"?$/,
    );

    // The researcher and the CERT still see the names the files came with.
    for (const who of [researcher, triager]) {
      const html = (await who.agent.get(`/reports/${id}`)).text;
      assert.deepEqual(
        links(html).map((l) => l.text),
        ["Rhea Searcher screen.png", "Rhea-Searcher-poc.pdf"],
      );
      const { disposition } = await download(
        who,
        links(html)[0]!.href,
        "own-1",
      );
      assert.match(disposition, /Rhea Searcher screen\.png/);
    }
  });

  it("shows the names to an organization the researcher revealed themselves to", async () => {
    const id = await fileAndNotify(
      [{ path: files.png!, name: "Rhea Searcher screen.png" }],
      true,
    );
    const orgLinks = links((await contact.agent.get(`/reports/${id}`)).text);
    assert.deepEqual(
      orgLinks.map((l) => l.text),
      ["Rhea Searcher screen.png"],
    );
  });

  it("hides the name of a file added after filing, too", async () => {
    const id = await fileAndNotify([]);
    await researcher.refreshCsrf(`/reports/${id}`);
    const res = await researcher.agent
      .post(`/reports/${id}/attachments`)
      .field("_csrf", researcher.csrf)
      .attach("attachments", files.jpeg!, { filename: "Rhea Searcher 2.jpg" });
    assert.equal(res.status, 303);
    const orgPage = await contact.agent.get(`/reports/${id}`);
    assert.doesNotMatch(orgPage.text, /Rhea/);
    const [link] = links(orgPage.text);
    assert.equal(link?.text, "attachment-1.jpg");
    const { file } = await download(contact, link.href, "later.jpg");
    assert.ok(!JSON.stringify(exif(file)).includes(NAME));
  });

  it("says on the forms what is removed", async () => {
    const form = await researcher.agent.get("/reports/new");
    assert.match(form.text, /removed/);
    assert.match(form.text, /GPS/);
    assert.match(form.text, /PDF/);
  });

  it("refuses a file whose details cannot be removed, keeping the form", async () => {
    const corrupt = at("broken.jpg");
    writeFileSync(
      corrupt,
      Buffer.concat([
        Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]),
        Buffer.from("JFIF\0"),
        Buffer.alloc(200, 0x41),
      ]),
    );
    const encrypted = at("locked.pdf");
    writeFileSync(
      encrypted,
      Buffer.from(
        [
          "%PDF-1.4",
          "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj",
          "2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj",
          "3 0 obj << /Filter /Standard /V 1 /R 2 /O (0123456789abcdef0123456789abcdef) /U (0123456789abcdef0123456789abcdef) /P -4 >> endobj",
          "trailer << /Root 1 0 R /Encrypt 3 0 R /Size 4 >>",
          "%%EOF",
          "",
        ].join("\n"),
        "latin1",
      ),
    );
    const before = await ctx.db
      .selectFrom("attachments")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    const res = await submitReport(
      researcher,
      reportFields({ title: "Kept title of a careful report" }),
      [
        { path: corrupt, name: "broken.jpg" },
        { path: encrypted, name: "locked.pdf" },
      ],
    );
    assert.equal(res.status, 422);
    assert.match(res.text, /value="Kept title of a careful report"/);
    const error = /id="f-attachments-error">([\s\S]*?)<\/p>/.exec(
      res.text,
    )?.[1];
    assert.ok(error, "the message is by the file field");
    assert.match(error, /broken\.jpg/);
    assert.match(error, /locked\.pdf/);
    assert.match(error, /hidden details/);
    const afterCount = await ctx.db
      .selectFrom("attachments")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    assert.equal(Number(afterCount.n), Number(before.n));
  });
});
