import type { Role } from "../auth/policy.js";

export const NOTIFY_LEVELS = ["all", "state", "none"] as const;
export type NotifyLevel = (typeof NOTIFY_LEVELS)[number];

export interface User {
  id: number;
  publicId: string;
  email: string;
  displayName: string;
  role: Role;
  notify: NotifyLevel;
  disabledAt: Date | null;
  emailVerifiedAt: Date | null;
  /** TOTP two-factor sign-in is on (required for staff, see policy.ts). */
  twoFactorEnabled: boolean;
  /** Mail to the address keeps bouncing since then (src/inbound/bounces.ts). */
  mailBouncingSince?: Date | null;
  /** The intake account holding unclaimed reports by email (src/inbound/intake.ts). */
  systemAccount?: boolean;
  createdAt: Date;
  /** Organizations the user belongs to (org contacts). */
  orgIds: number[];
  /** Of orgIds: where this member sees only the cases they are given. */
  limitedOrgIds: number[];
  /** Of orgIds: the organizations this member administers. */
  adminOrgIds: number[];
}
