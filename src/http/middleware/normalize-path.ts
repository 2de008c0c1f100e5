/**
 * Conjur's router (Rails) normalises the path before matching: runs of `/` become one and
 * one trailing `/` is dropped, so `/secrets/acct/variable/db/pass/` is `…/db/pass` and the
 * Ruby SDK's `…/variable/x/?version=1` works. `%2F` is untouched (it stays in the id).
 * HEAD is answered by the GET route with no body (Express does that by itself).
 */
import type { NextFunction, Request, Response } from "express";

export function normalizePath(req: Request, _res: Response, next: NextFunction): void {
  const q = req.url.indexOf("?");
  const path = q < 0 ? req.url : req.url.slice(0, q);
  if (!path.includes("//") && (path.length === 1 || !path.endsWith("/"))) return next();
  let normal = path.replace(/\/{2,}/g, "/");
  if (normal.length > 1 && normal.endsWith("/")) normal = normal.slice(0, -1);
  if (normal !== path) req.url = normal + (q < 0 ? "" : req.url.slice(q));
  next();
}
