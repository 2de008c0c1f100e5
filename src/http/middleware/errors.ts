/**
 * The one place errors become responses. ApiErrors render as Conjur's JSON bodies (or an
 * empty body); body-parser failures become 413/400; a database error is the client's input
 * (422) or an outage (503) when src/storage/pg-errors.ts says so; anything else is logged
 * (without request data) and answered with a generic 500, never a stack trace or SQL.
 */
import type { NextFunction, Request, Response } from "express";
import { ApiError, errors } from "../../errors.js";
import { classifyDatabaseError } from "../../storage/pg-errors.js";
import { forDeletedCaller } from "./deleted-caller.js";
import type { Services } from "../services.js";

function toApiError(err: unknown, services: Services, res: Response): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { type?: string; status?: number; message?: string };
  if (e.type === "entity.too.large") return errors.payloadTooLarge(services.config.bodyLimitBytes);
  if (typeof e.status === "number" && e.status >= 400 && e.status < 500)
    return errors.badRequest(e.type ?? "malformed request");
  const dbClass = classifyDatabaseError(err);
  if (dbClass === "client-input") {
    services.log.warn(
      { requestId: res.locals.requestId, sqlstate: (err as { code?: string }).code },
      "database refused a value from the request",
    );
    return errors.unstorableInput();
  }
  if (dbClass === "unavailable") {
    services.log.warn(
      { requestId: res.locals.requestId, err: { code: (err as { code?: string }).code, message: e.message } },
      "database unavailable",
    );
    return errors.unavailable("The database is unavailable; retry shortly");
  }
  services.log.error({ requestId: res.locals.requestId, err: { message: e.message, type: e.type } }, "unhandled error");
  return errors.internal();
}

function send(res: Response, apiError: ApiError): void {
  res.status(apiError.status).set(apiError.headers);
  if (apiError.body) res.json(apiError.body);
  else res.end();
}

export function errorHandler(services: Services) {
  return (err: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) return next(err);
    const apiError = toApiError(err, services, res);
    forDeletedCaller(services, req, res, apiError).then(
      (final) => send(res, final),
      (lookupFailed: unknown) => send(res, toApiError(lookupFailed, services, res)),
    );
  };
}

export function notFound(req: Request, _res: Response, next: NextFunction): void {
  next(errors.routeNotFound(req.method, req.path));
}
