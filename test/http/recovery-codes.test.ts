import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import {
  anonymous,
  createTestContext,
  createUser,
  csrfFrom,
  signedIn,
  totpCode,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

const codesOn = (html: string) =>
  [...html.matchAll(/<li><code>([0-9A-Z]{5}-[0-9A-Z]{5})<\/code><\/li>/g)].map(
    (m) => m[1]!,
  );

const forgetLastStep = (ctx: TestContext, who: TestUser) =>
  ctx.db
    .updateTable("users")
    .set({ totp_last_step: null })
    .where("id", "=", who.user.id)
    .execute();

/** Signs in with the password and then a recovery code instead of the app. */
async function signInWithRecoveryCode(
  ctx: TestContext,
  who: TestUser,
  code: string,
) {
  const browser = await anonymous(ctx);
  const first = await browser.post("/login", {
    email: who.email,
    password: who.password,
  });
  assert.equal(first.headers.location, "/login/2fa");
  await browser.refreshCsrf("/login/2fa");
  return browser.post("/login/2fa", { code });
}

/** Recovery codes: downloaded as a file once shown, made anew from the account. */
describe("recovery codes: download and regenerate", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  async function regenerate(browser: Browser, fields: Record<string, string>) {
    const page = await browser.agent.get("/account/2fa");
    assert.match(page.text, /action="\/account\/2fa\/recovery-codes"/);
    browser.csrf = csrfFrom(page.text);
    return browser.post("/account/2fa/recovery-codes", fields);
  }

  const auditCount = async () =>
    (
      await ctx.db
        .selectFrom("audit_log")
        .select("id")
        .where("action", "=", "auth.recovery_codes_regenerated")
        .execute()
    ).length;

  it("are offered as a text file right after enrollment shows them: attachment, not stored", async () => {
    const researcher = await createUser(ctx, "researcher");
    const browser = await signedIn(ctx, researcher);
    const enroll = await browser.agent.get("/account/2fa");
    const secret = /id="totp-secret">([A-Z2-7 ]+)</
      .exec(enroll.text)![1]!
      .replace(/ /g, "");
    browser.csrf = csrfFrom(enroll.text);
    const shown = await browser.post("/account/2fa", {
      code: totpCode(ctx, secret),
    });
    assert.equal(shown.status, 200);
    assert.equal(shown.headers["cache-control"], "no-store");
    const codes = codesOn(shown.text);
    assert.equal(codes.length, 10);
    assert.match(shown.text, /Download as a text file/);

    browser.csrf = csrfFrom(shown.text);
    const file = await browser.post("/account/2fa/recovery-codes/download", {
      codes,
    });
    assert.equal(file.status, 200);
    assert.match(
      file.headers["content-disposition"] ?? "",
      /^attachment; filename="?disclosure-desk-recovery-codes\.txt"?$/,
    );
    assert.equal(file.headers["cache-control"], "no-store");
    assert.match(file.headers["content-type"] ?? "", /^text\/plain/);
    for (const code of codes) assert.ok(file.text.includes(code), code);
    assert.match(file.text, new RegExp(researcher.email.replace(".", "\\.")));

    // Nothing but this account's unused codes goes into the file.
    const forged = await browser.post("/account/2fa/recovery-codes/download", {
      codes: ["<script>alert(1)</script>"],
    });
    assert.equal(forged.status, 303);
    assert.equal(forged.headers.location, "/account/2fa");
  });

  it("are made anew with the password: the old ones stop working, audited and mailed", async () => {
    const researcher = await createUser(ctx, "researcher", { twoFactor: true });
    const browser = await signedIn(ctx, researcher);
    const account = await browser.agent.get("/account");
    assert.match(account.text, /href="\/account\/2fa#new-codes"/);

    const first = await regenerate(browser, {
      regenPassword: researcher.password,
    });
    assert.equal(first.status, 200);
    assert.equal(first.headers["cache-control"], "no-store");
    assert.match(first.text, /New recovery codes/);
    const old = codesOn(first.text);
    assert.equal(old.length, 10);
    assert.match(first.text, /Download as a text file/);

    await forgetLastStep(ctx, researcher);
    const second = await regenerate(browser, {
      regenCode: totpCode(ctx, researcher.totpSecret!),
    });
    assert.equal(second.status, 200, "a code from the app is enough");
    const fresh = codesOn(second.text);
    assert.equal(fresh.length, 10);
    assert.ok(!fresh.some((c) => old.includes(c)));
    assert.equal(await auditCount(), 2);

    // The file can no longer be made from the replaced codes.
    browser.csrf = csrfFrom(second.text);
    const stale = await browser.post("/account/2fa/recovery-codes/download", {
      codes: old,
    });
    assert.equal(stale.status, 303);

    assert.equal(
      (await signInWithRecoveryCode(ctx, researcher, old[0]!)).status,
      401,
      "an old code is refused",
    );
    const ok = await signInWithRecoveryCode(ctx, researcher, fresh[0]!);
    assert.equal(ok.status, 303, "a new one works");

    const mails = await ctx.db
      .selectFrom("outbox")
      .selectAll()
      .where("to_address", "=", researcher.email)
      .where(
        "subject",
        "=",
        "Your Disclosure Desk recovery codes were regenerated",
      )
      .execute();
    assert.equal(mails.length, 2);
    assert.match(mails[0]!.text_body, /The old codes no longer work/);
    for (const code of [...old, ...fresh])
      assert.ok(!mails[0]!.text_body.includes(code), "no code in the mail");
  });

  it("refuses a wrong password or code next to its field, changing nothing", async () => {
    const triager = await createUser(ctx, "triager");
    const browser = await signedIn(ctx, triager);
    const before = await ctx.db
      .selectFrom("recovery_codes")
      .select("code_hash")
      .where("user_id", "=", triager.user.id)
      .execute();
    const audits = await auditCount();

    const wrong = await regenerate(browser, { regenPassword: "not it" });
    assert.equal(wrong.status, 422);
    assert.match(
      wrong.text,
      /<p class="error" id="f-regenPassword-error"><span class="visually-hidden">Error:<\/span> That password is not right\.<\/p>/,
    );
    assert.match(wrong.text, /id="f-regenPassword"[^>]*aria-invalid="true"/);

    const badCode = await regenerate(browser, { regenCode: "000000" });
    assert.equal(badCode.status, 422);
    assert.match(badCode.text, /id="f-regenCode-error"/);
    assert.match(badCode.text, /That code is not right/);

    const empty = await regenerate(browser, {});
    assert.equal(empty.status, 422);
    assert.match(
      empty.text,
      /id="f-regenPassword-error"[\s\S]*Enter your password, or a code from your app/,
    );

    const after = await ctx.db
      .selectFrom("recovery_codes")
      .select("code_hash")
      .where("user_id", "=", triager.user.id)
      .execute();
    assert.deepEqual(after, before);
    assert.equal(await auditCount(), audits);
  });

  it("stops guessing the password through new codes: the 11th try in an hour is refused, even when right", async () => {
    const researcher = await createUser(ctx, "researcher", { twoFactor: true });
    const browser = await signedIn(ctx, researcher);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++)
      statuses.push(
        (await regenerate(browser, { regenPassword: `guess ${i}` })).status,
      );
    assert.deepEqual(new Set(statuses), new Set([422]));
    const right = await regenerate(browser, {
      regenPassword: researcher.password,
    });
    assert.equal(right.status, 429);
    assert.doesNotMatch(right.text, /New recovery codes/);
  });
});
