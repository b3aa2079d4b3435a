import type { Express } from "express";
import { auditRoutes } from "./audit/routes.js";
import type { Deps } from "./deps.js";
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
 * after the session, CSRF and layout middleware, and before the 404 handler.
 */
export function registerFeatureRoutes(app: Express, deps: Deps): void {
  app.use(auditRoutes(deps));
  app.use(organizationRoutes(deps));
  app.use(organizationAdminRoutes(deps));
  app.use(reportListRoutes(deps));
  app.use(bulkRoutes(deps));
  app.use(reportRoutes(deps));
  app.use(outboxRoutes(deps));
  app.use(inboundAdminRoutes(deps));
  app.use(advisoryRoutes(deps));
  app.use(statsRoutes(deps));
  app.use(settingsRoutes(deps));
  app.use(claimRoutes(deps));
  app.use(webhookRoutes(deps));
}
