import { can, type Actor } from "../auth/policy.js";
import { recordAudit } from "../audit/service.js";
import { refreshComputedQueueDue } from "../reports/queue.js";
import type { AuditDetails, AuditRequestContext } from "../audit/types.js";
import type { Config } from "../config.js";
import { announceChange, onChange } from "../db/changes.js";
import type { DbOrTx } from "../db/index.js";
import type { Deps } from "../deps.js";
import { NotFoundError } from "../http/errors.js";
import type { FieldErrors } from "../http/validation.js";
import { deleteSetting, listSettings, upsertSetting } from "./repository.js";

export type Clocks = Config["clocks"];

/** Ten years: longer is a typo, not a policy. */
export const MIN_DAYS = 1;
export const MAX_DAYS = 3650;

/** The disclosure-policy clocks an admin may change, in the order of the page. */
export const CLOCK_SETTINGS = [
  {
    key: "ackDueDays",
    env: "ACK_DUE_DAYS",
    group: "response",
    label: "Acknowledge a new report within (days)",
  },
  {
    key: "triageDueDays",
    env: "TRIAGE_DUE_DAYS",
    group: "response",
    label: "Triage an acknowledged report within (days)",
  },
  {
    key: "infoReminderDays",
    env: "INFO_REMINDER_DAYS",
    group: "info",
    label: "Remind the researcher of an unanswered question after (days)",
  },
  {
    key: "infoExpiryDays",
    env: "INFO_EXPIRY_DAYS",
    group: "info",
    label: "Close an unanswered report as invalid after (days)",
  },
  {
    key: "disclosureDays",
    env: "DISCLOSURE_DAYS",
    group: "disclosure",
    label: "Disclosure deadline after the organization is notified (days)",
  },
  {
    key: "remediationCritical",
    env: "REMEDIATION_DAYS, critical",
    group: "disclosure",
    label: "Fix expected for critical severity within (days)",
  },
  {
    key: "remediationHigh",
    env: "REMEDIATION_DAYS, high",
    group: "disclosure",
    label: "Fix expected for high severity within (days)",
  },
  {
    key: "remediationMedium",
    env: "REMEDIATION_DAYS, medium",
    group: "disclosure",
    label: "Fix expected for medium severity within (days)",
  },
  {
    key: "remediationLow",
    env: "REMEDIATION_DAYS, low",
    group: "disclosure",
    label: "Fix expected for low severity within (days)",
  },
  {
    key: "orgAnswerDays",
    env: "ORG_ANSWER_DAYS",
    group: "orgs",
    label: "An organization answers its notice within (days)",
  },
] as const;

export type ClockSettingKey = (typeof CLOCK_SETTINGS)[number]["key"];
export type ClockValues = Record<ClockSettingKey, number>;
/** What an admin changed; a key left out follows the environment. */
export type SavedClocks = Partial<ClockValues>;

export const CLOCK_KEYS: readonly ClockSettingKey[] = CLOCK_SETTINGS.map(
  (s) => s.key,
);

/** Stored under a prefix, so later settings of other kinds have room. */
const STORED_PREFIX = "clocks.";

export function isValidDays(value: unknown): value is number {
  return (
    typeof value === "number" &&
    Number.isInteger(value) &&
    value >= MIN_DAYS &&
    value <= MAX_DAYS
  );
}

export function clockValues(clocks: Clocks): ClockValues {
  return {
    ackDueDays: clocks.ackDueDays,
    triageDueDays: clocks.triageDueDays,
    disclosureDays: clocks.disclosureDays,
    infoReminderDays: clocks.infoReminderDays,
    infoExpiryDays: clocks.infoExpiryDays,
    remediationCritical: clocks.remediationDays.critical,
    remediationHigh: clocks.remediationDays.high,
    remediationMedium: clocks.remediationDays.medium,
    remediationLow: clocks.remediationDays.low,
    orgAnswerDays: clocks.orgAnswerDays,
  };
}

function clocksOf(v: ClockValues): Clocks {
  return Object.freeze({
    ackDueDays: v.ackDueDays,
    triageDueDays: v.triageDueDays,
    disclosureDays: v.disclosureDays,
    infoReminderDays: v.infoReminderDays,
    infoExpiryDays: v.infoExpiryDays,
    remediationDays: Object.freeze({
      critical: v.remediationCritical,
      high: v.remediationHigh,
      medium: v.remediationMedium,
      low: v.remediationLow,
    }),
    orgAnswerDays: v.orgAnswerDays,
  });
}

function savedFrom(rows: { key: string; value: unknown }[]): SavedClocks {
  const saved: SavedClocks = {};
  for (const row of rows) {
    if (!row.key.startsWith(STORED_PREFIX)) continue;
    const key = row.key.slice(STORED_PREFIX.length) as ClockSettingKey;
    // A row this version cannot use (renamed key, hand-edited value) is
    // ignored: the environment's value is a safe fallback.
    if (CLOCK_KEYS.includes(key) && isValidDays(row.value))
      saved[key] = row.value;
  }
  return saved;
}

/**
 * The effective policy: the environment's values overlaid by what an admin
 * saved. Held in memory so the deadline code reads it synchronously;
 * loaded at start-up and replaced on save, and on PostgreSQL read again
 * when another instance saved (followSettings).
 */
export class SettingsStore {
  readonly #defaults: ClockValues;
  #saved: SavedClocks = {};
  #clocks: Clocks;
  /** Reloads started; only the latest one's answer is kept. */
  #loads = 0;

  constructor(defaults: Clocks, saved: SavedClocks = {}) {
    this.#defaults = Object.freeze(clockValues(defaults));
    this.#clocks = clocksOf(this.#defaults);
    this.replace(saved);
  }

  /** The clocks that apply to new deadlines now. */
  clocks(): Clocks {
    return this.#clocks;
  }

  /** The environment's values (the starting point). */
  defaults(): ClockValues {
    return this.#defaults;
  }

  saved(): SavedClocks {
    return { ...this.#saved };
  }

  replace(saved: SavedClocks): void {
    this.#saved = { ...saved };
    this.#clocks = clocksOf({ ...this.#defaults, ...this.#saved });
  }

  /** Reads the saved values again (at start-up, and when another instance saved). */
  async reload(db: DbOrTx): Promise<void> {
    const load = ++this.#loads;
    const saved = savedFrom(await listSettings(db));
    if (load === this.#loads) this.replace(saved);
  }
}

/**
 * Keeps this instance's settings those of the database: on PostgreSQL,
 * when another instance saved them (its change notice), or when notices
 * were lost, they are read again (src/db/changes.ts). Returns how to stop.
 */
export function followSettings(
  deps: Pick<Deps, "db" | "settings" | "logger">,
): () => void {
  return onChange(deps.db, async (topic) => {
    if (topic !== "settings") return;
    try {
      await deps.settings.reload(deps.db);
    } catch (err) {
      deps.logger.error({ err }, "settings could not be read again");
    }
  });
}

/** The store for a migrated database: environment defaults and saved values. */
export async function loadSettings(
  db: DbOrTx,
  config: Pick<Config, "clocks">,
): Promise<SettingsStore> {
  const store = new SettingsStore(config.clocks);
  await store.reload(db);
  return store;
}

export interface ClockSettingsView {
  defaults: ClockValues;
  effective: ClockValues;
  saved: SavedClocks;
}

export function clockSettings(
  deps: Pick<Deps, "settings">,
  actor: Actor | null,
): ClockSettingsView {
  if (!can(actor, "settings:manage")) throw new NotFoundError();
  return {
    defaults: deps.settings.defaults(),
    effective: clockValues(deps.settings.clocks()),
    saved: deps.settings.saved(),
  };
}

export type SaveOutcome =
  | { ok: true; value: { changed: ClockSettingKey[] } }
  | { ok: false; errors: FieldErrors };

/** Days with a note when they are the environment's value. */
function describe(value: number, isDefault: boolean): string {
  return isDefault ? `${value} (default)` : String(value);
}

/**
 * Saves the clocks an admin submitted: a number, or null for the
 * environment's value. A number equal to the environment's value is stored
 * as "follow the environment", so a later change of the variable applies.
 * The rows and one audit entry (old → new per key) commit together; the
 * in-memory copy is replaced after the commit. Existing reports keep their
 * kept dates: only deadlines set from now on use the new values (the fix
 * target and the answer's expiry, read with the settings of the day, move
 * with them, and so does the queue's next deadline).
 */
export async function saveClockSettings(
  deps: Pick<Deps, "db" | "clock" | "settings">,
  actor: Actor | null,
  input: Record<ClockSettingKey, number | null>,
  request: AuditRequestContext | null,
): Promise<SaveOutcome> {
  if (!actor || !can(actor, "settings:manage")) throw new NotFoundError();
  const defaults = deps.settings.defaults();
  const next: SavedClocks = {};
  for (const key of CLOCK_KEYS) {
    const value = input[key];
    if (value === null || value === defaults[key]) continue;
    if (!isValidDays(value))
      return {
        ok: false,
        errors: {
          [key]: `Enter a whole number of days from ${MIN_DAYS} to ${MAX_DAYS}.`,
        },
      };
    next[key] = value;
  }
  const effective: ClockValues = { ...defaults, ...next };
  if (effective.infoReminderDays >= effective.infoExpiryDays)
    return {
      ok: false,
      errors: {
        infoReminderDays: `The reminder must come before the report is closed: use fewer days than the ${effective.infoExpiryDays} after which it is closed.`,
      },
    };

  const now = deps.clock.now();
  const changed = await deps.db.transaction().execute(async (tx) => {
    // The database, not the memory, is what the change is compared with.
    const before = savedFrom(await listSettings(tx));
    const changed = CLOCK_KEYS.filter((k) => before[k] !== next[k]);
    if (changed.length === 0) return changed;
    const details: AuditDetails = {};
    for (const key of changed) {
      const value = next[key];
      if (value === undefined) await deleteSetting(tx, STORED_PREFIX + key);
      else await upsertSetting(tx, STORED_PREFIX + key, value, now, actor.id);
      const old = before[key];
      details[key] =
        `${describe(old ?? defaults[key], old === undefined)} → ` +
        describe(value ?? defaults[key], value === undefined);
    }
    await recordAudit(tx, {
      action: "setting.changed",
      actor,
      target: { type: "setting", id: "clocks" },
      details,
      request,
      at: now,
    });
    await announceChange(tx, "settings");
    return changed;
  });
  deps.settings.replace(next);
  if (changed.length > 0)
    await refreshComputedQueueDue(deps, deps.settings.clocks());
  return { ok: true, value: { changed } };
}
