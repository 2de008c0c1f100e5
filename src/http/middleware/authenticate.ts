/**
 * Token authentication for the protected routes: verifies `Authorization: Token token="…"`
 * and leaves the caller in `res.locals.auth`. A route whose path names an account only
 * accepts tokens issued by that account.
 */
import type { NextFunction, Request, Response } from "express";
import { roleIdForLogin } from "../../authz/ids.js";
import { errors } from "../../errors.js";
import type { Services } from "../services.js";

export interface Caller {
  account: string;
  login: string;
  roleId: string;
  iat: number;
  /** When the token expires (epoch seconds): a stream held with it ends then. */
  exp: number;
}

/** Verify the request's token; 401 when missing, malformed, tampered, expired or foreign. */
export async function authenticateRequest(services: Services, req: Request, res: Response): Promise<Caller> {
  const claims = await services.tokens.verifyHeader(req.get("authorization"));
  const pathAccount = typeof req.params.account === "string" ? req.params.account : undefined;
  if (pathAccount !== undefined && pathAccount !== claims.account)
    throw errors.unauthorized("Unauthorized: token belongs to another account");
  const caller: Caller = {
    account: claims.account,
    login: claims.login,
    roleId: roleIdForLogin(claims.account, claims.login),
    iat: claims.iat,
    exp: claims.exp,
  };
  res.locals.auth = caller;
  return caller;
}

export function requireToken(services: Services) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    await authenticateRequest(services, req, res);
    next();
  };
}

export const callerOf = (res: Response): Caller => res.locals.auth as Caller;
