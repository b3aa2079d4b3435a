import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import supertest from "supertest";
import {
  anonymous,
  createTestContext,
  createUser,
  type TestContext,
} from "../support/harness.js";

/** What a first-time visitor finds: the public record, why to sign in, a favicon. */
describe("a newcomer's way in", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  it("the home page and every page's footer link the published advisories and the acknowledgments", async () => {
    const home = await supertest(ctx.app).get("/");
    assert.equal(home.status, 200);
    const main = home.text.slice(
      home.text.indexOf("<main"),
      home.text.indexOf("</main>"),
    );
    assert.match(main, /href="\/advisories"/);
    assert.match(main, /href="\/acknowledgments"/);
    const login = await supertest(ctx.app).get("/login");
    const footer = login.text.slice(login.text.indexOf("<footer"));
    assert.match(footer, /<a href="\/advisories">Published advisories<\/a>/);
    assert.match(footer, /<a href="\/acknowledgments">Acknowledgments<\/a>/);
  });

  it("an anonymous 'Report a vulnerability' explains why to sign in, links both ways in, and the form opens after signing in", async () => {
    const visitor = await anonymous(ctx);
    const res = await visitor.agent.get("/reports/new");
    assert.equal(res.status, 200);
    assert.match(res.text, /Why an account/);
    assert.match(res.text, /who knows your name/);
    assert.match(res.text, /follow the case/);
    assert.match(res.text, /credit/);
    assert.match(res.text, /href="\/login\?to=report"/);
    assert.match(res.text, /href="\/register"/);
    // No form to fill while signed out.
    assert.doesNotMatch(res.text, /action="\/reports\/new"/);

    const researcher = await createUser(ctx, "researcher");
    await visitor.refreshCsrf("/login?to=report");
    const signed = await visitor.post("/login", {
      email: researcher.email,
      password: researcher.password,
    });
    assert.equal(signed.status, 303);
    assert.equal(signed.headers.location, "/reports/new");
    const form = await visitor.agent.get("/reports/new");
    assert.equal(form.status, 200);
    assert.match(form.text, /action="\/reports\/new"/);
  });

  it("every page links an SVG favicon and /favicon.ico leads to it", async () => {
    const home = await supertest(ctx.app).get("/");
    assert.match(
      home.text,
      /<link rel="icon" href="\/public\/favicon.svg" type="image\/svg\+xml" \/>/,
    );
    const ico = await supertest(ctx.app).get("/favicon.ico");
    assert.equal(ico.status, 301);
    assert.equal(ico.headers.location, "/public/favicon.svg");
    const svg = await supertest(ctx.app).get("/public/favicon.svg");
    assert.equal(svg.status, 200);
    assert.match(svg.headers["content-type"] ?? "", /image\/svg\+xml/);
    assert.match(svg.body.toString(), /<svg /);
  });
});
