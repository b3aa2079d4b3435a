/** Time is a dependency so tests can move it (deadlines, token expiry, sessions). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
