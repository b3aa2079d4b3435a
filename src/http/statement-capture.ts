import type { NextFunction, Request, Response } from "express";
import { appendFileSync } from "node:fs";
import {
  captureStatements,
  enableStatementCapture,
  encodeParam,
  type CapturedStatement,
} from "../db/capture.js";

/**
 * For the benchmark (SQL_CAPTURE_FILE): each request's SQL statements, in
 * the order the app ran them, appended as one JSON line when the answer is
 * sent: { method, url, status, at, statements: [{ sql, params, reader }] }.
 * bench/limit.ts prepares exactly these. Never set in production: the file
 * holds session IDs and whatever the statements' parameters carry.
 */
export function statementCapture(file: string) {
  enableStatementCapture();
  return (req: Request, res: Response, next: NextFunction) => {
    const statements: CapturedStatement[] = [];
    const at = Date.now();
    res.once("finish", () => {
      appendFileSync(
        file,
        JSON.stringify({
          method: req.method,
          url: req.originalUrl,
          status: res.statusCode,
          at,
          statements: statements.map((s) => ({
            ...s,
            params: s.params.map(encodeParam),
          })),
        }) + "\n",
      );
    });
    captureStatements(statements, next);
  };
}
