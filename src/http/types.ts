import type { User as AppUser } from "../users/types.js";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // passport puts the signed-in account on req.user
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends AppUser {}
  }
}

declare module "express-session" {
  interface SessionData {
    flash?: { kind: "success" | "error" | "info"; message: string }[];
    /** Where to go after signing in (a same-site path). */
    returnTo?: string;
    /** Where this signed-in session was opened (the account's sessions list). */
    client?: { ip: string | null; userAgent: string | null };
    /** Password checked, second factor not yet: who, and since when (ms). */
    twoFactorPending?: { userId: number; since: number };
    /** A form the session expired on, kept to be filed or refilled after sign-in. */
    pendingForm?: {
      action: string;
      values: Record<string, unknown>;
      savedAt: number;
      /** Whose session ended: offered back to them only. */
      userId: number;
    };
    /** A webhook endpoint's new signing secret, shown once on its page, then forgotten. */
    webhookSecret?: { endpoint: string; secret: string };
  }
}

export {};
