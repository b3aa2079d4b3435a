import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import type { Db } from "./db/index.js";
import type { SettingsStore } from "./settings/service.js";
import type { Resolver } from "./webhooks/safe-fetch.js";

/** What services need from the outside world; tests pass their own. */
export interface Deps {
  db: Db;
  config: Config;
  clock: Clock;
  logger: Logger;
  /** The effective disclosure-policy clocks (environment + admin changes). */
  settings: SettingsStore;
  /** DNS for webhook URLs (src/webhooks); the system's when absent, tests give their own. */
  webhookResolve?: Resolver;
}
