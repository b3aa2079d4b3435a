/** Time is a dependency so tests can move it (deadlines, token expiry, sessions). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
