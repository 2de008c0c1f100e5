/**
 * A token outlives its role: Conjur checks the signature only, then each controller looks
 * the caller up and answers 403 when the role is gone (conjur-api-second-pass.md §10).
 * We check only when an answer would have been a 404 (a deleted role sees nothing), so the
 * read path pays nothing. Single-resource show decides for itself (404 if the resource does
 * not exist, else 403); list routes, which answer 200, call `assertCallerExists`.
 */
import type { Request, Response } from "express";
import { roleExists } from "../../authz/permissions.js";
import { ApiError, errors } from "../../errors.js";
import type { Caller } from "./authenticate.js";
import type { Services } from "../services.js";

const DECIDES_ITSELF = new Set(["/resources/:account/:kind/*identifier"]);

/** The 404 a matched route raised, turned into 403 when the caller's role no longer exists. */
export async function forDeletedCaller(
  services: Services,
  req: Request,
  res: Response,
  error: ApiError,
): Promise<ApiError> {
  const caller = res.locals.auth as Caller | undefined;
  const route = req.route ? String(req.route.path) : undefined;
  if (error.status !== 404 || !caller || !route || DECIDES_ITSELF.has(route)) return error;
  return (await roleExists(services.pool, caller.roleId)) ? error : errors.forbidden();
}

export async function assertCallerExists(services: Services, caller: Caller): Promise<void> {
  if (!(await roleExists(services.pool, caller.roleId))) throw errors.forbidden();
}
