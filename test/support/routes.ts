import type { Express } from "express";

export interface AppRoute {
  /** Upper case: GET, POST, ... ("ALL" for app.all). */
  method: string;
  /** The path pattern as registered, such as /reports/:id. */
  path: string;
  /** The policy action the route line declares (allowedOn), if any. */
  action?: string;
  /** The API token scope the route line declares (src/api/http.ts needs), if any. */
  scope?: string;
}

interface Layer {
  route?: {
    path: string | string[];
    methods: Record<string, boolean>;
    stack?: Layer[];
  };
  handle?: { stack?: Layer[]; allowedAction?: string; apiScope?: string };
  rawPath?: string | string[];
}

function join(prefix: string, path: string): string {
  if (path === "/" || path === "") return prefix || "/";
  return `${prefix}${path}`.replace(/\/{2,}/g, "/");
}

function walk(stack: Layer[], prefix: string, out: AppRoute[]) {
  for (const layer of stack) {
    if (layer.route) {
      const paths = ([] as string[]).concat(layer.route.path);
      const action = layer.route.stack
        ?.map((l) => l.handle?.allowedAction)
        .find((a) => a !== undefined);
      const scope = layer.route.stack
        ?.map((l) => l.handle?.apiScope)
        .find((a) => a !== undefined);
      for (const method of Object.keys(layer.route.methods)) {
        for (const path of paths) {
          out.push({
            method: method === "_all" ? "ALL" : method.toUpperCase(),
            path: join(prefix, path),
            ...(action && { action }),
            ...(scope && { scope }),
          });
        }
      }
    } else if (Array.isArray(layer.handle?.stack)) {
      // A mounted router; mounted at a prefix when its layer has a path.
      const mount =
        typeof layer.rawPath === "string" && layer.rawPath !== "/"
          ? layer.rawPath
          : "";
      walk(layer.handle.stack, join(prefix, mount), out);
    }
  }
}

/**
 * Every route of the app, read from Express's own router (Express 5), so a
 * route added anywhere later shows up in the tests that iterate over them.
 */
export function listRoutes(app: Express): AppRoute[] {
  const router = (app as unknown as { router?: { stack: Layer[] } }).router;
  if (!router) throw new Error("the app has no router yet");
  const out: AppRoute[] = [];
  walk(router.stack, "", out);
  const seen = new Set<string>();
  return out.filter((r) => {
    const key = `${r.method} ${r.path}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
