import type { NextFunction, Request, Response, Router } from "express";

/** path-to-regexp's syntax: a first segment with any of these is a pattern. */
const PATTERN = /[:*?+(){}[\]\\!]/;

/** A layer of an Express 5 router (the router package's Layer). */
interface LayerLike {
  rawPath?: unknown;
  slash?: boolean;
}

/** The first segment of a path, as Express matches it (case ignored). */
function firstSegment(path: string): string {
  const end = path.indexOf("/", 1);
  return (end === -1 ? path.slice(1) : path.slice(1, end)).toLowerCase();
}

/**
 * The first segments a router's routes and middleware begin with, or null
 * when a request with any path may be meant for it: a middleware for every
 * path, a path that is not plain text, or a first segment that is a pattern.
 */
export function firstSegmentsOf(router: Router): Set<string> | null {
  const stack = (router as unknown as { stack?: LayerLike[] }).stack;
  if (!Array.isArray(stack)) return null;
  const segments = new Set<string>();
  for (const layer of stack) {
    if (layer.slash) return null;
    const paths = Array.isArray(layer.rawPath)
      ? (layer.rawPath as unknown[])
      : [layer.rawPath];
    for (const path of paths) {
      if (typeof path !== "string" || !path.startsWith("/")) return null;
      const segment = firstSegment(path);
      if (PATTERN.test(segment)) return null;
      segments.add(segment);
    }
  }
  return segments;
}

/**
 * A feature router is mounted at "/", so every request that gets as far
 * passes through it, and Express tries each of its routes on the path in
 * turn: 60 to 130 routes on the way to the queue or a report page, 2–4 % of
 * a view (bench/README.md). The gate lets a request into the router only
 * when its path begins with a first segment that one of the router's routes
 * or middleware begins with ("/reports/…" for "/reports/:id"); the others go
 * straight on, as they would have after trying every route. The segments
 * are read from the router once, when the app is built (so every route must
 * be added by then, as src/routes.ts does); a router that may take any path
 * (a middleware for every path, a pattern as first segment) is returned
 * as it is.
 */
export function gateRouter(router: Router) {
  const segments = firstSegmentsOf(router);
  if (!segments) return router;
  const gated = (req: Request, res: Response, next: NextFunction) => {
    if (segments.has(firstSegment(req.path))) return router(req, res, next);
    next();
  };
  // The router's routes stay listed where Express keeps them, as a mounted
  // router's (test/support/routes.ts walks them).
  return Object.assign(gated, {
    stack: (router as unknown as { stack: LayerLike[] }).stack,
  });
}
