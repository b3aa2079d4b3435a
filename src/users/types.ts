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
  createdAt: Date;
  /** Organizations the user belongs to (org contacts). */
  orgIds: number[];
}
