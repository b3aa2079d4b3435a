import assert from "node:assert/strict";
import { describe, it } from "mocha";
import type { Role } from "../../src/auth/policy.js";
import { triageTeamFrom } from "../../src/settings/triage-mail.js";
import type { User } from "../../src/users/types.js";

const user = (id: number, role: Role): User => ({
  id,
  publicId: `u${id}`,
  email: `u${id}@example.test`,
  displayName: `User ${id}`,
  role,
  notify: "all",
  disabledAt: null,
  emailVerifiedAt: null,
  twoFactorEnabled: true,
  createdAt: new Date(0),
  orgIds: [],
  limitedOrgIds: [],
  adminOrgIds: [],
});
const ids = (users: User[]) => users.map((u) => u.id);

describe("who hears of a report nobody is assigned to", () => {
  const staff = [user(1, "admin"), user(2, "triager"), user(3, "triager")];

  it("the staff an admin chose, while any of them is active staff", () => {
    assert.deepEqual(ids(triageTeamFrom(staff, [1, 3])), [1, 3]);
    assert.deepEqual(ids(triageTeamFrom(staff, [3, 99])), [3]);
  });

  it("by default, or when nobody chosen is left, every active triager", () => {
    assert.deepEqual(ids(triageTeamFrom(staff, undefined)), [2, 3]);
    assert.deepEqual(ids(triageTeamFrom(staff, [99])), [2, 3]);
    assert.deepEqual(ids(triageTeamFrom(staff, "garbage")), [2, 3]);
  });

  it("the admins when there is no triager, so a report always reaches somebody", () => {
    assert.deepEqual(ids(triageTeamFrom([user(1, "admin")], undefined)), [1]);
  });
});
