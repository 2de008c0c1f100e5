/**
 * The first check every request passes: its decoded path and query may not carry a NUL
 * byte (nothing we store can hold one) nor more query parameters than LIMITS allows.
 * Routes then bound each value they use (src/input/limits.ts); this guard makes the NUL
 * rule hold for every route, including ones added later, before any work is done.
 */
import type { NextFunction, Request, Response } from "express";
import { errors } from "../../errors.js";
import { LIMITS } from "../../input/limits.js";

function hasNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\0");
  if (Array.isArray(value)) return value.some(hasNul);
  if (value && typeof value === "object") return Object.entries(value).some(([k, v]) => k.includes("\0") || hasNul(v));
  return false;
}

export function inputGuard(req: Request, _res: Response, next: NextFunction): void {
  // Encoded NULs only: a raw NUL cannot arrive in a request line (Node refuses it).
  if (/%00/.test(req.url)) {
    let path: string;
    try {
      path = decodeURIComponent(req.path);
    } catch {
      return next(errors.badRequest("the request path is not valid percent-encoding"));
    }
    if (path.includes("\0")) return next(errors.argument("the request path may not contain NUL bytes"));
  }
  // Express 5 re-parses the query string on every read of req.query: parse it once here.
  const query = req.query as Record<string, unknown>;
  Object.defineProperty(req, "query", { value: query, configurable: true, enumerable: true });
  if (Object.keys(query).length > LIMITS.queryParameters)
    return next(errors.argument(`a request may carry at most ${LIMITS.queryParameters} query parameters`));
  if (hasNul(query)) return next(errors.argument("query parameters may not contain NUL bytes"));
  next();
}
