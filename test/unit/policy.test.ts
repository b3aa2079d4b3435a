import assert from "node:assert/strict";
import { describe, it } from "mocha";
import {
  administeredOrgIds,
  can,
  canAnswerFor,
  canAdministerOrg,
  canAssignRole,
  canManageWebhook,
  canReadStatement,
  canVerifyFixes,
  participantSight,
  speaksFor,
  canUseSavedView,
  GLOBAL_ACTIONS,
  mustEnrollTwoFactor,
  mustVerifyEmail,
  canReadEvent,
  readableEvents,
  relationTo,
  standsFor,
  writableAudiences,
  REPORT_ACTIONS,
  ROLES,
  type Actor,
  type GlobalAction,
  type ReportAccessFacts,
  type ReportAction,
  type Role,
  type WebhookEndpointFacts,
  webhookMayHear,
  webhookOrgChoices,
} from "../../src/auth/policy.js";
import {
  RESOLUTIONS,
  STATES,
  type Resolution,
  type State,
} from "../../src/reports/workflow.js";

const ORG_A = 100;
const ORG_B = 200;
const OTHER_RESEARCHER = 99;

/** An account with its address confirmed and two-factor sign-in on. */
const ready = { emailVerified: true, twoFactorEnabled: true };

const actors: Record<Role, Actor> = {
  researcher: { id: 1, role: "researcher", orgIds: [], ...ready },
  org_contact: { id: 2, role: "org_contact", orgIds: [ORG_A], ...ready },
  triager: { id: 3, role: "triager", orgIds: [], ...ready },
  admin: { id: 4, role: "admin", orgIds: [], ...ready },
};

const notified = new Date("2026-03-01T00:00:00Z");

/**
 * How the report stands to the actor. "own" is filed by the actor themself;
 * the org columns concern the contact's organization A (before and after it
 * was notified, with and without the researcher's consent to be named) and
 * another organization B.
 */
const RELATIONS = [
  "own",
  "other",
  "orgBefore",
  "orgAfter",
  "orgAfterHidden",
  "otherOrg",
] as const;
type Rel = (typeof RELATIONS)[number];

/** A case resolved, so that the rules of stateRules hold; they have their own table below. */
const resolved = { state: "closed", resolution: "resolved" } as const;

function factsFor(actor: Actor, rel: Rel): ReportAccessFacts {
  return { ...resolved, ...whoFor(actor, rel) };
}

function whoFor(actor: Actor, rel: Rel): ReportAccessFacts {
  switch (rel) {
    case "own":
      return {
        reporterId: actor.id,
        participants: [],
        revealIdentity: false,
      };
    case "other":
      return {
        reporterId: OTHER_RESEARCHER,
        participants: [],
        revealIdentity: true,
      };
    case "orgBefore":
      return {
        reporterId: OTHER_RESEARCHER,
        participants: [{ organizationId: ORG_A, notifiedAt: null }],
        revealIdentity: true,
      };
    case "orgAfter":
      return {
        reporterId: OTHER_RESEARCHER,
        participants: [{ organizationId: ORG_A, notifiedAt: notified }],
        revealIdentity: true,
      };
    case "orgAfterHidden":
      return {
        reporterId: OTHER_RESEARCHER,
        participants: [{ organizationId: ORG_A, notifiedAt: notified }],
        revealIdentity: false,
      };
    case "otherOrg":
      return {
        reporterId: OTHER_RESEARCHER,
        participants: [{ organizationId: ORG_B, notifiedAt: notified }],
        revealIdentity: true,
      };
  }
}

// Columns, in order: own, other, orgBefore, orgAfter, orgAfterHidden, otherOrg.
// Y = allowed, . = refused.
const ALL = "YYYYYY";
const NONE = "......";
const REPORT_TABLE: Record<ReportAction, Record<Role, string>> = {
  "report:view": {
    researcher: "Y.....",
    org_contact: "...YY.",
    triager: ALL,
    admin: ALL,
  },
  "report:comment": {
    researcher: "Y.....",
    org_contact: "...YY.",
    triager: ALL,
    admin: ALL,
  },
  "report:upload": {
    researcher: "Y.....",
    org_contact: NONE,
    triager: ALL,
    admin: ALL,
  },
  "report:act": {
    researcher: "Y.....",
    org_contact: "...YY.",
    triager: ALL,
    admin: ALL,
  },
  "report:see_reporter": {
    researcher: "Y.....",
    org_contact: "...Y..",
    triager: ALL,
    admin: ALL,
  },
  "report:view_internal": {
    researcher: NONE,
    org_contact: NONE,
    triager: ALL,
    admin: ALL,
  },
  "report:add_note": {
    researcher: NONE,
    org_contact: NONE,
    triager: ALL,
    admin: ALL,
  },
  "report:edit_triage": {
    researcher: NONE,
    org_contact: NONE,
    triager: ALL,
    admin: ALL,
  },
  "report:record_case_facts": {
    researcher: NONE,
    org_contact: NONE,
    triager: ALL,
    admin: ALL,
  },
  "report:write_advisory": {
    researcher: NONE,
    org_contact: NONE,
    triager: ALL,
    admin: ALL,
  },
  "report:assign": {
    researcher: NONE,
    org_contact: NONE,
    triager: ALL,
    admin: ALL,
  },
  "report:set_deadline": {
    researcher: NONE,
    org_contact: NONE,
    triager: ALL,
    admin: ALL,
  },
  "report:request_extension": {
    researcher: NONE,
    org_contact: "...YY.",
    triager: NONE,
    admin: NONE,
  },
  "report:letter": {
    researcher: "Y.....",
    org_contact: NONE,
    triager: NONE,
    admin: NONE,
  },
  "report:answer_credit": {
    researcher: "Y.....",
    org_contact: NONE,
    triager: NONE,
    admin: NONE,
  },
  "report:request_disclosure": {
    researcher: "Y.....",
    org_contact: NONE,
    triager: NONE,
    admin: NONE,
  },
  "report:answer_disclosure": {
    researcher: NONE,
    org_contact: NONE,
    triager: ALL,
    admin: ALL,
  },
  "report:view_viewers": {
    researcher: "Y.....",
    org_contact: NONE,
    triager: ALL,
    admin: ALL,
  },
  "report:share_message": {
    researcher: NONE,
    org_contact: NONE,
    triager: ALL,
    admin: ALL,
  },
  // The table's reports are closed: the state rules below say when it is open.
  "report:edit_submission": {
    researcher: NONE,
    org_contact: NONE,
    triager: NONE,
    admin: NONE,
  },
  "report:view_revisions": {
    researcher: NONE,
    org_contact: NONE,
    triager: ALL,
    admin: ALL,
  },
  "report:read_draft_advisory": {
    researcher: "Y.....",
    org_contact: "...YY.",
    triager: ALL,
    admin: ALL,
  },
  "report:manage_participants": {
    researcher: NONE,
    org_contact: NONE,
    triager: ALL,
    admin: ALL,
  },
  // For which organization: canAnswerFor (below).
  "report:answer_as_org": {
    researcher: NONE,
    org_contact: "...YY.",
    triager: ALL,
    admin: ALL,
  },
};

const GLOBAL_TABLE: Record<GlobalAction, readonly Role[]> = {
  "account:manage": ["researcher", "org_contact", "triager", "admin"],
  "report:create": ["researcher"],
  "report:claim": ["researcher"],
  "report:list_own": ["researcher"],
  "report:list_org": ["org_contact"],
  "queue:view": ["triager", "admin"],
  "queue:bulk": ["triager", "admin"],
  "report:search": ["researcher", "org_contact", "triager", "admin"],
  "org:manage": ["triager", "admin"],
  "user:manage": ["admin"],
  "outbox:manage": ["admin"],
  "inbound:manage": ["triager", "admin"],
  "audit:view": ["admin"],
  "stats:view_staff": ["triager", "admin"],
  "settings:manage": ["admin"],
  "saved_view:use": ["triager", "admin"],
  // A plain org contact: no; an organization's administrator: yes (below, "webhooks").
  "webhook:manage": ["admin"],
};

describe("policy", () => {
  it("has an expected answer for every action (a new action must be added here)", () => {
    assert.deepEqual(
      Object.keys(GLOBAL_TABLE).sort(),
      [...GLOBAL_ACTIONS].sort(),
    );
    assert.deepEqual(
      Object.keys(REPORT_TABLE).sort(),
      [...REPORT_ACTIONS].sort(),
    );
  });

  describe("account state", () => {
    it("a researcher whose address is not confirmed may not file a report, but may do the rest", () => {
      const unconfirmed = { ...actors.researcher, emailVerified: false };
      assert.equal(can(unconfirmed, "report:create"), false);
      assert.equal(can(unconfirmed, "report:list_own"), true);
      assert.equal(mustVerifyEmail(unconfirmed), true);
      assert.equal(mustVerifyEmail(actors.researcher), false);
    });
    for (const role of ["triager", "admin"] as const) {
      it(`a ${role} without two-factor sign-in may do nothing but manage the account`, () => {
        const bare = { ...actors[role], twoFactorEnabled: false };
        assert.equal(mustEnrollTwoFactor(bare), true);
        for (const action of GLOBAL_ACTIONS)
          assert.equal(can(bare, action), action === "account:manage", action);
        for (const action of REPORT_ACTIONS)
          assert.equal(
            can(bare, action, {
              reporterId: 1,
              participants: [{ organizationId: ORG_A, notifiedAt: notified }],
              revealIdentity: true,
            }),
            false,
            action,
          );
      });
    }
    it("two-factor sign-in is optional for researchers and org contacts", () => {
      for (const role of ["researcher", "org_contact"] as const) {
        const bare = { ...actors[role], twoFactorEnabled: false };
        assert.equal(mustEnrollTwoFactor(bare), false);
        assert.equal(can(bare, "account:manage"), true);
      }
    });
  });

  describe("global actions", () => {
    for (const action of GLOBAL_ACTIONS) {
      for (const role of ROLES) {
        const expected = GLOBAL_TABLE[action].includes(role);
        it(`${role} ${expected ? "may" : "may not"} ${action}`, () => {
          assert.equal(can(actors[role], action), expected);
        });
      }
      it(`nobody signed out may ${action}`, () => {
        assert.equal(can(null, action), false);
        assert.equal(can(undefined, action), false);
      });
    }
  });

  describe("report actions", () => {
    for (const action of REPORT_ACTIONS) {
      for (const role of ROLES) {
        RELATIONS.forEach((rel, i) => {
          const expected = REPORT_TABLE[action][role][i] === "Y";
          it(`${role} on ${rel}: ${action} → ${expected ? "allowed" : "refused"}`, () => {
            assert.equal(
              can(actors[role], action, factsFor(actors[role], rel)),
              expected,
            );
          });
        });
      }
      it(`nobody signed out may ${action}`, () => {
        for (const rel of RELATIONS)
          assert.equal(
            can(null, action, factsFor(actors.researcher, rel)),
            false,
          );
      });
    }

    it("a report action asked without the report is refused", () => {
      for (const action of REPORT_ACTIONS)
        assert.equal(
          (can as (a: Actor, x: string) => boolean)(actors.admin, action),
          false,
        );
    });

    it("an org contact in several organizations sees the reports of each", () => {
      const contact: Actor = {
        id: 5,
        role: "org_contact",
        orgIds: [ORG_A, ORG_B],
        ...ready,
      };
      assert.equal(
        can(contact, "report:view", factsFor(contact, "otherOrg")),
        true,
      );
      assert.equal(
        can(contact, "report:view", factsFor(contact, "orgAfter")),
        true,
      );
      assert.equal(
        can(contact, "report:view", factsFor(contact, "orgBefore")),
        false,
      );
    });

    it("an org contact whose id is a report.s reporter id is not its reporter", () => {
      // An org contact whose id happens to be a report's reporter id is not its reporter.
      const contact = actors.org_contact;
      assert.equal(relationTo(contact, factsFor(contact, "own")), "none");
      assert.equal(
        can(contact, "report:view", factsFor(contact, "own")),
        false,
      );
    });
  });

  describe("state-dependent rules", () => {
    // The researcher's letter of acknowledgment exists only for a case
    // resolved or published; every other state or resolution refuses it.
    const letterExists = (state: State, resolution: Resolution | null) =>
      state === "disclosed" ||
      (state === "closed" && resolution === "resolved");
    const own = whoFor(actors.researcher, "own");
    for (const state of STATES)
      for (const resolution of [null, ...RESOLUTIONS]) {
        const expected = letterExists(state, resolution);
        it(`the letter of a ${state} report (${resolution ?? "no resolution"}) is ${expected ? "there" : "not there"}`, () => {
          assert.equal(
            can(actors.researcher, "report:letter", {
              ...own,
              state,
              resolution,
            }),
            expected,
          );
        });
      }
    it("a state-dependent action asked without the state is refused", () => {
      assert.equal(can(actors.researcher, "report:letter", own), false);
      assert.equal(
        can(actors.researcher, "report:edit_submission", own),
        false,
      );
      assert.equal(
        can(actors.researcher, "report:read_draft_advisory", own),
        false,
      );
    });

    // The researcher corrects their report until a triager acknowledges it:
    // only the reporter, only in "submitted".
    for (const state of STATES)
      for (const role of ROLES)
        for (const rel of RELATIONS) {
          const expected =
            state === "submitted" && role === "researcher" && rel === "own";
          it(`edit_submission: ${role} on ${rel} in ${state} → ${expected ? "allowed" : "refused"}`, () => {
            assert.equal(
              can(actors[role], "report:edit_submission", {
                ...whoFor(actors[role], rel),
                state,
                resolution: null,
              }),
              expected,
            );
          });
        }

    // The draft advisory is read before publication by everyone on the case.
    for (const state of STATES) {
      const open = state !== "disclosed";
      it(`the draft advisory of a ${state} report is ${open ? "readable" : "gone (published)"}`, () => {
        for (const [role, rel] of [
          ["researcher", "own"],
          ["org_contact", "orgAfter"],
          ["triager", "other"],
        ] as const)
          assert.equal(
            can(actors[role], "report:read_draft_advisory", {
              ...whoFor(actors[role], rel),
              state,
              resolution: null,
            }),
            open,
            `${role} ${rel}`,
          );
        // Never an organization not notified, nor another one.
        for (const rel of ["orgBefore", "otherOrg"] as const)
          assert.equal(
            can(actors.org_contact, "report:read_draft_advisory", {
              ...whoFor(actors.org_contact, rel),
              state,
              resolution: null,
            }),
            false,
          );
      });
    }
  });

  describe("relationTo", () => {
    const expected: Record<Role, Record<Rel, string>> = {
      researcher: {
        own: "reporter",
        other: "none",
        orgBefore: "none",
        orgAfter: "none",
        orgAfterHidden: "none",
        otherOrg: "none",
      },
      org_contact: {
        own: "none",
        other: "none",
        orgBefore: "none",
        orgAfter: "org_contact",
        orgAfterHidden: "org_contact",
        otherOrg: "none",
      },
      triager: {
        own: "staff",
        other: "staff",
        orgBefore: "staff",
        orgAfter: "staff",
        orgAfterHidden: "staff",
        otherOrg: "staff",
      },
      admin: {
        own: "staff",
        other: "staff",
        orgBefore: "staff",
        orgAfter: "staff",
        orgAfterHidden: "staff",
        otherOrg: "staff",
      },
    };
    for (const role of ROLES)
      for (const rel of RELATIONS)
        it(`${role} on ${rel} is ${expected[role][rel]}`, () => {
          assert.equal(
            relationTo(actors[role], factsFor(actors[role], rel)),
            expected[role][rel],
          );
        });
  });

  describe("readableEvents and canReadEvent: two organizations on one case", () => {
    const twoOrgs: ReportAccessFacts = {
      reporterId: OTHER_RESEARCHER,
      participants: [
        { organizationId: ORG_A, notifiedAt: notified },
        { organizationId: ORG_B, notifiedAt: notified },
      ],
      revealIdentity: true,
    };
    const contactA: Actor = { ...actors.org_contact, orgIds: [ORG_A] };
    const contactB: Actor = { ...actors.org_contact, id: 77, orgIds: [ORG_B] };
    const researcher: Actor = { ...actors.researcher, id: OTHER_RESEARCHER };
    const entries = {
      internal: { audience: "internal", audienceOrgId: null },
      researcher: { audience: "researcher", audienceOrgId: null },
      toA: { audience: "org", audienceOrgId: ORG_A },
      toB: { audience: "org", audienceOrgId: ORG_B },
      toAWithResearcher: { audience: "org_researcher", audienceOrgId: ORG_A },
      toBWithResearcher: { audience: "org_researcher", audienceOrgId: ORG_B },
      everyone: { audience: "everyone", audienceOrgId: null },
    } as const;
    const expected: Record<string, readonly (keyof typeof entries)[]> = {
      triager: Object.keys(entries) as (keyof typeof entries)[],
      researcher: [
        "researcher",
        "toAWithResearcher",
        "toBWithResearcher",
        "everyone",
      ],
      contactA: ["toA", "toAWithResearcher", "everyone"],
      contactB: ["toB", "toBWithResearcher", "everyone"],
      outsider: [],
    };
    const who: Record<string, Actor> = {
      triager: actors.triager,
      researcher,
      contactA,
      contactB,
      outsider: actors.researcher,
    };
    for (const [name, reads] of Object.entries(expected))
      for (const [entry, event] of Object.entries(entries)) {
        const may = (reads as readonly string[]).includes(entry);
        it(`${name} ${may ? "reads" : "does not read"} ${entry}`, () => {
          assert.equal(
            canReadEvent(readableEvents(who[name]!, twoOrgs), event),
            may,
          );
        });
      }
    it("an organization not yet notified reads nothing of the case", () => {
      const facts: ReportAccessFacts = {
        ...twoOrgs,
        participants: [
          { organizationId: ORG_A, notifiedAt: notified },
          { organizationId: ORG_B, notifiedAt: null },
        ],
      };
      assert.equal(relationTo(contactB, facts), "none");
      assert.deepEqual(readableEvents(contactB, facts).orgIds, []);
      assert.equal(relationTo(contactA, facts), "org_contact");
    });
    it("a member who sees only given cases stands for the organization only when given this one", () => {
      const limited: Actor = { ...contactA, limitedOrgIds: [ORG_A] };
      assert.equal(relationTo(limited, twoOrgs), "none");
      assert.deepEqual(standsFor(limited, twoOrgs), []);
      const given = {
        ...twoOrgs,
        grants: [{ userId: limited.id, orgId: ORG_A }],
      };
      // Given by another organization, the case stays closed to ORG_A's member.
      const byB = {
        ...twoOrgs,
        grants: [{ userId: limited.id, orgId: ORG_B }],
      };
      assert.equal(relationTo(limited, byB), "none");
      // A member of both organizations, each showing only given cases, given
      // it by A alone, reads and speaks for A alone.
      const inBoth: Actor = {
        ...contactA,
        orgIds: [ORG_A, ORG_B],
        limitedOrgIds: [ORG_A, ORG_B],
      };
      assert.deepEqual(standsFor(inBoth, given), [ORG_A]);
      assert.equal(relationTo(limited, given), "org_contact");
      assert.deepEqual(standsFor(limited, given), [ORG_A]);
    });
    it("an organization writes to everyone on the case only once it is opened", () => {
      const closed = writableAudiences(contactA, twoOrgs).map(
        (w) => w.audience,
      );
      assert.deepEqual(closed, ["org", "org_researcher"]);
      const opened = writableAudiences(contactA, {
        ...twoOrgs,
        caseOpen: true,
      });
      assert.deepEqual(
        opened.map((w) => w.audience),
        ["org", "org_researcher", "everyone"],
      );
      // Never for another organization.
      for (const w of opened) assert.ok(!w.orgIds.includes(ORG_B));
    });
  });

  describe("participants: who answers for and sees which organization", () => {
    const twoOrgs: ReportAccessFacts = {
      reporterId: OTHER_RESEARCHER,
      participants: [
        { organizationId: ORG_A, notifiedAt: notified },
        { organizationId: ORG_B, notifiedAt: notified },
      ],
      revealIdentity: true,
    };
    const opened = { ...twoOrgs, caseOpen: true };
    const contactA: Actor = { ...actors.org_contact, orgIds: [ORG_A] };
    const researcher: Actor = { ...actors.researcher, id: OTHER_RESEARCHER };
    it("an org contact answers for its own organization only; staff for any participant", () => {
      assert.equal(canAnswerFor(contactA, twoOrgs, ORG_A), true);
      assert.equal(canAnswerFor(contactA, twoOrgs, ORG_B), false);
      assert.equal(canAnswerFor(actors.triager, twoOrgs, ORG_B), true);
      assert.equal(canAnswerFor(actors.triager, twoOrgs, 999), false);
      assert.equal(canAnswerFor(researcher, twoOrgs, ORG_A), false);
    });
    it("only the organization itself shares its statement", () => {
      assert.equal(speaksFor(contactA, twoOrgs, ORG_A), true);
      assert.equal(speaksFor(contactA, twoOrgs, ORG_B), false);
      assert.equal(speaksFor(actors.triager, twoOrgs, ORG_A), false);
    });
    it("another organization is invisible until the case is opened, then its name and status", () => {
      assert.equal(participantSight(contactA, twoOrgs, ORG_A), "full");
      assert.equal(participantSight(contactA, twoOrgs, ORG_B), "none");
      assert.equal(participantSight(contactA, opened, ORG_B), "status");
      assert.equal(participantSight(researcher, twoOrgs, ORG_B), "status");
      assert.equal(participantSight(actors.triager, twoOrgs, ORG_B), "full");
      assert.equal(participantSight(actors.researcher, twoOrgs, ORG_B), "none");
    });
    it("another organization's statement only on an opened case and when it shares it", () => {
      const b = { organizationId: ORG_B, statementShared: true };
      const bPrivate = { organizationId: ORG_B, statementShared: false };
      assert.equal(canReadStatement(contactA, twoOrgs, b), false);
      assert.equal(canReadStatement(contactA, opened, bPrivate), false);
      assert.equal(canReadStatement(contactA, opened, b), true);
      assert.equal(canReadStatement(actors.triager, twoOrgs, bPrivate), true);
    });
    it("the researcher and staff verify fixes; organizations do not", () => {
      assert.equal(canVerifyFixes(researcher, twoOrgs), true);
      assert.equal(canVerifyFixes(actors.triager, twoOrgs), true);
      assert.equal(canVerifyFixes(contactA, twoOrgs), false);
    });
  });

  describe("canAssignRole", () => {
    const table: Record<Role, readonly Role[]> = {
      researcher: [],
      org_contact: [],
      triager: ["org_contact"],
      admin: ["researcher", "org_contact", "triager", "admin"],
    };
    for (const actorRole of ROLES)
      for (const role of ROLES) {
        const expected = table[actorRole].includes(role);
        it(`${actorRole} ${expected ? "may" : "may not"} make a ${role}`, () => {
          assert.equal(canAssignRole(actors[actorRole], role), expected);
        });
      }
    it("nobody signed out may give a role", () => {
      for (const role of ROLES) assert.equal(canAssignRole(null, role), false);
    });
  });

  describe("canAdministerOrg (org:administer, per organization)", () => {
    // Who administers organization A; B is another organization.
    const adminA: Actor = {
      ...actors.org_contact,
      id: 20,
      orgIds: [ORG_A, ORG_B],
      adminOrgIds: [ORG_A],
    };
    const memberA: Actor = { ...actors.org_contact, id: 21, orgIds: [ORG_A] };
    // An administrator flag left for an organization they no longer belong to.
    const formerAdmin: Actor = {
      ...actors.org_contact,
      id: 22,
      orgIds: [ORG_B],
      adminOrgIds: [ORG_A],
    };
    const table: [string, Actor | null, boolean, boolean][] = [
      // who, actor, administers A, administers B
      ["the administrator of A", adminA, true, false],
      ["a plain member of A", memberA, false, false],
      [
        "an administrator flag without the membership",
        formerAdmin,
        false,
        false,
      ],
      ["a researcher", actors.researcher, false, false],
      ["a triager (org:manage)", actors.triager, true, true],
      ["an admin (org:manage)", actors.admin, true, true],
      [
        "a triager without two-factor sign-in",
        { ...actors.triager, twoFactorEnabled: false },
        false,
        false,
      ],
      ["nobody signed in", null, false, false],
    ];
    for (const [who, actor, a, b] of table) {
      it(`${who} ${a ? "administers" : "does not administer"} A and ${b ? "administers" : "does not administer"} B`, () => {
        assert.equal(canAdministerOrg(actor, ORG_A), a);
        assert.equal(canAdministerOrg(actor, ORG_B), b);
      });
    }
    it("a contact's own administered organizations (the navigation) are those they administer as a member", () => {
      assert.deepEqual(administeredOrgIds(adminA), [ORG_A]);
      assert.deepEqual(administeredOrgIds(memberA), []);
      assert.deepEqual(administeredOrgIds(formerAdmin), []);
      assert.deepEqual(administeredOrgIds(actors.triager), []);
      assert.deepEqual(administeredOrgIds(null), []);
    });
    it("an administrator is never limited to given cases (users/repository orgIdsOf), so sees every notified case", () => {
      assert.equal(
        can(adminA, "report:view", {
          reporterId: OTHER_RESEARCHER,
          participants: [{ organizationId: ORG_A, notifiedAt: notified }],
          revealIdentity: true,
        }),
        true,
      );
    });
  });

  describe("canUseSavedView", () => {
    // Every role × own/another's view: only staff, and only their own.
    for (const role of ROLES)
      for (const own of [true, false]) {
        const expected = own && (role === "triager" || role === "admin");
        it(`${role} ${expected ? "may" : "may not"} use ${own ? "their own" : "another's"} saved view`, () => {
          const actor = actors[role];
          const view = { userId: own ? actor.id : actor.id + 100 };
          assert.equal(canUseSavedView(actor, view), expected);
        });
      }
    it("nobody signed out, nor staff without two-factor sign-in", () => {
      assert.equal(canUseSavedView(null, { userId: 3 }), false);
      assert.equal(
        canUseSavedView(
          { ...actors.triager, twoFactorEnabled: false },
          { userId: 3 },
        ),
        false,
      );
    });
  });
  describe("webhooks", () => {
    const report = (organizationId: number | null): ReportAccessFacts => ({
      reporterId: OTHER_RESEARCHER,
      participants:
        organizationId === null
          ? []
          : [{ organizationId, notifiedAt: notified }],
      revealIdentity: false,
    });
    const all: WebhookEndpointFacts = { ownerId: 4, orgId: null };
    const orgA: WebhookEndpointFacts = { ownerId: 4, orgId: ORG_A };

    for (const role of ROLES) {
      const expected = role === "admin";
      it(`${role} ${expected ? "may" : "may not"} manage a webhook endpoint, another admin's included`, () => {
        assert.equal(canManageWebhook(actors[role], all), expected);
        assert.equal(
          canManageWebhook(actors[role], { ownerId: 999, orgId: ORG_B }),
          expected,
        );
      });
      it(`an endpoint owned by a ${role} ${expected ? "hears" : "hears nothing"}`, () => {
        assert.equal(
          webhookMayHear(actors[role], all, report(ORG_A), null),
          expected,
        );
      });
    }

    it("an admin's endpoint hears every audience (the payload never carries the text)", () => {
      for (const audience of ["internal", "researcher", "everyone"] as const)
        assert.equal(
          webhookMayHear(actors.admin, all, report(null), {
            audience,
            audienceOrgId: null,
          }),
          true,
          audience,
        );
    });

    it("an organization's endpoint hears only of that organization's reports", () => {
      assert.equal(
        webhookMayHear(actors.admin, orgA, report(ORG_A), null),
        true,
      );
      assert.equal(
        webhookMayHear(actors.admin, orgA, report(ORG_B), null),
        false,
      );
      assert.equal(
        webhookMayHear(actors.admin, orgA, report(null), null),
        false,
      );
    });

    describe("an organization's administrator", () => {
      const orgAdmin: Actor = {
        ...actors.org_contact,
        orgIds: [ORG_A, ORG_B],
        adminOrgIds: [ORG_A],
      };
      const own: WebhookEndpointFacts = { ownerId: orgAdmin.id, orgId: ORG_A };
      const twoOrgs = (orgB: Date | null): ReportAccessFacts => ({
        reporterId: OTHER_RESEARCHER,
        participants: [
          { organizationId: ORG_A, notifiedAt: notified },
          { organizationId: ORG_B, notifiedAt: orgB },
        ],
        revealIdentity: false,
      });
      it("reaches the webhook pages and registers for the organizations they administer", () => {
        assert.equal(can(orgAdmin, "webhook:manage"), true);
        assert.deepEqual(webhookOrgChoices(orgAdmin), [ORG_A]);
        assert.equal(webhookOrgChoices(actors.admin), null);
      });
      it("a plain member, and every other non-admin role, does not", () => {
        for (const role of ROLES) {
          if (role === "admin") continue;
          assert.equal(can(actors[role], "webhook:manage"), false, role);
          assert.deepEqual(webhookOrgChoices(actors[role]), [], role);
        }
      });
      it("manages their organization's endpoints, another administrator's included", () => {
        assert.equal(canManageWebhook(orgAdmin, own), true);
        assert.equal(
          canManageWebhook(orgAdmin, { ownerId: 999, orgId: ORG_A }),
          true,
        );
      });
      it("never an endpoint of an organization they only belong to, another's, or an all-reports one", () => {
        assert.equal(
          canManageWebhook(orgAdmin, { ownerId: orgAdmin.id, orgId: ORG_B }),
          false,
        );
        assert.equal(
          canManageWebhook(orgAdmin, { ownerId: 999, orgId: 300 }),
          false,
        );
        assert.equal(
          canManageWebhook(orgAdmin, { ownerId: orgAdmin.id, orgId: null }),
          false,
        );
      });
      it("their endpoint hears of cases the organization takes part in and was notified of", () => {
        assert.equal(webhookMayHear(orgAdmin, own, report(ORG_A), null), true);
        assert.equal(webhookMayHear(orgAdmin, own, report(ORG_B), null), false);
        assert.equal(webhookMayHear(orgAdmin, own, twoOrgs(null), null), true);
        assert.equal(
          webhookMayHear(
            orgAdmin,
            own,
            {
              ...report(ORG_A),
              participants: [{ organizationId: ORG_A, notifiedAt: null }],
            },
            null,
          ),
          false,
        );
      });
      it("their endpoint never hears of an entry written to another organization only, nor internal", () => {
        const facts = twoOrgs(notified);
        assert.equal(
          webhookMayHear(orgAdmin, own, facts, {
            audience: "everyone",
            audienceOrgId: null,
          }),
          true,
        );
        assert.equal(
          webhookMayHear(orgAdmin, own, facts, {
            audience: "internal",
            audienceOrgId: null,
          }),
          false,
        );
        assert.equal(
          webhookMayHear(orgAdmin, own, facts, {
            audience: "org",
            audienceOrgId: ORG_B,
          }),
          false,
        );
        assert.equal(
          webhookMayHear(orgAdmin, own, facts, {
            audience: "org",
            audienceOrgId: ORG_A,
          }),
          true,
        );
      });
      it("demoted or removed, their endpoint hears nothing at once and they manage it no more", () => {
        const demoted: Actor = { ...orgAdmin, adminOrgIds: [] };
        const removed: Actor = {
          ...orgAdmin,
          orgIds: [ORG_B],
          adminOrgIds: [],
        };
        for (const who of [demoted, removed]) {
          assert.equal(webhookMayHear(who, own, report(ORG_A), null), false);
          assert.equal(canManageWebhook(who, own), false);
          assert.equal(can(who, "webhook:manage"), false);
        }
      });
    });

    it("an owner without two-factor sign-in, or signed out, hears nothing", () => {
      const bare = { ...actors.admin, twoFactorEnabled: false };
      assert.equal(webhookMayHear(bare, all, report(ORG_A), null), false);
      assert.equal(canManageWebhook(bare, all), false);
      assert.equal(canManageWebhook(null, all), false);
    });
  });
});
