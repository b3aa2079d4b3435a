import { Router } from "express";
import { auditContextOf } from "../audit/routes.js";
import type { Deps } from "../deps.js";
import { actorOf, flash, requireAllowed } from "../http/middleware.js";
import {
  applicable,
  applyBulk,
  BulkConflict,
  bulkForm,
  bulkPage,
  checkBulk,
  MAX_BULK,
  type BulkCheck,
} from "./bulk.js";

const DONE_WORDS = {
  assign: "assigned",
  acknowledge: "acknowledged",
  severity: "given the new severity",
  duplicate: "closed as duplicates",
} as const;

/**
 * POST /reports/bulk: the queue's selected reports and one action. Without
 * confirm=yes (or with anything in the way) it shows what would change;
 * with it, and nothing in the way, it applies all or nothing.
 */
export function bulkRoutes(deps: Deps) {
  const router = Router();

  router.post(
    "/reports/bulk",
    requireAllowed("queue:bulk"),
    async (req, res) => {
      const actor = actorOf(req)!;
      const form = bulkForm(req.body);
      const render = async (
        status: number,
        check: BulkCheck,
        errors: Record<string, string> = {},
      ) =>
        res.status(status).render("reports/bulk-confirm", {
          title: "Confirm the change to several reports",
          ...(await bulkPage(deps, actor, check, { errors })),
        });
      if (form.ids.length > MAX_BULK) {
        const empty: BulkCheck = {
          action: null,
          complete: false,
          values: {},
          errors: {},
          rows: [],
          steps: [],
        };
        return render(422, empty, {
          ids: `Choose at most ${MAX_BULK} reports at once (you chose ${form.ids.length}).`,
        });
      }
      const check = await checkBulk(deps, actor, form);
      if (!form.confirm) return render(200, check);
      if (!applicable(check)) return render(422, check);
      try {
        const changed = await applyBulk(
          deps,
          actor,
          check,
          auditContextOf(req),
        );
        flash(
          req,
          "success",
          `Done: ${changed} report${changed === 1 ? "" : "s"} ${DONE_WORDS[check.action!]}.`,
        );
        res.redirect(303, "/queue");
      } catch (err) {
        if (!(err instanceof BulkConflict)) throw err;
        return render(409, await checkBulk(deps, actor, form), {
          ids: `Someone changed ${err.publicId} a moment ago; nothing was applied. Check the changes again.`,
        });
      }
    },
  );

  return router;
}
