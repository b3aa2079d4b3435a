import type { Express } from "express";
import { auditRoutes } from "./audit/routes.js";
import type { Deps } from "./deps.js";
import { gateRouter } from "./http/router-gate.js";
import { inboundAdminRoutes } from "./inbound/admin-routes.js";
import { outboxRoutes } from "./mail/routes.js";
import { organizationRoutes } from "./orgs/routes.js";
import { organizationAdminRoutes } from "./orgs/admin-routes.js";
import { reportListRoutes } from "./reports/list-routes.js";
import { bulkRoutes } from "./reports/bulk-routes.js";
import { reportRoutes } from "./reports/routes.js";
import { advisoryRoutes } from "./advisories/routes.js";
import { statsRoutes } from "./stats/routes.js";
import { settingsRoutes } from "./settings/routes.js";
import { claimRoutes } from "./inbound/claim-routes.js";
import { webhookRoutes } from "./webhooks/routes.js";

/**
 * Feature routers (reports, organizations, mail outbox, ...) are mounted here,
 * after the session, CSRF and layout middleware, and before the 404 handler,
 * each behind its gate (src/http/router-gate.ts): a request enters only the
 * routers with a route for its path's first segment.
 */
export function registerFeatureRoutes(app: Express, deps: Deps): void {
  app.use(gateRouter(auditRoutes(deps)));
  app.use(gateRouter(organizationRoutes(deps)));
  app.use(gateRouter(organizationAdminRoutes(deps)));
  app.use(gateRouter(reportListRoutes(deps)));
  app.use(gateRouter(bulkRoutes(deps)));
  app.use(gateRouter(reportRoutes(deps)));
  app.use(gateRouter(outboxRoutes(deps)));
  app.use(gateRouter(inboundAdminRoutes(deps)));
  app.use(gateRouter(advisoryRoutes(deps)));
  app.use(gateRouter(statsRoutes(deps)));
  app.use(gateRouter(settingsRoutes(deps)));
  app.use(gateRouter(claimRoutes(deps)));
  app.use(gateRouter(webhookRoutes(deps)));
}
