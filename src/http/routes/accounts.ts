/**
 * The accounts API (conjur-api-second-pass.md §9): `GET /accounts` (read), `POST /accounts`
 * with `id` (execute; 201 with the new admin's API key), `DELETE /accounts/{id}` (update),
 * all on `!:webservice:accounts`. Conjur's names: no `/`, no spaces or `:`.
 */
import { Router, type Request, type Response } from "express";
import { AccountExistsError, createAccount } from "../../accounts/accounts.js";
import { deleteAccount, listAccounts, mayManageAccounts, SYSTEM_ACCOUNT } from "../../accounts/accounts-api.js";
import { ApiError, errors } from "../../errors.js";
import { checkStorable, LIMITS } from "../../input/limits.js";
import { callerOf, requireToken } from "../middleware/authenticate.js";
import { RequestParams } from "../request-params.js";
import type { Services } from "../services.js";

function checkAccountName(name: string): void {
  checkStorable("account", name, LIMITS.accountBytes);
  if (name.includes("/")) throw errors.argument(`Invalid account: ${name}`);
  const bad = [...new Set(name.match(/[\s:?#]/g) ?? [])];
  if (bad.length > 0) throw errors.argument(`account name "${name}" contains invalid characters (${bad.join("")})`);
  if (name === SYSTEM_ACCOUNT) throw errors.argument(`Invalid account: ${name}`);
}

const accountExists = (name: string): ApiError =>
  new ApiError(409, {
    error: {
      code: "conflict",
      message: `account "${name}" already exists`,
      target: "account",
      details: { code: "conflict", target: "id", message: name },
    },
  });

export function accountsRouter(services: Services): Router {
  const router = Router();
  const { pool } = services;
  const auth = requireToken(services);

  router.get("/accounts", auth, async (_req: Request, res: Response) => {
    if (!(await mayManageAccounts(pool, callerOf(res).roleId, "read"))) throw errors.forbidden();
    res.json(await listAccounts(pool));
  });

  router.post("/accounts", auth, async (req: Request, res: Response) => {
    const caller = callerOf(res);
    if (!(await mayManageAccounts(pool, caller.roleId, "execute"))) throw errors.forbidden();
    const name = new RequestParams(req).one("id");
    if (!name) throw errors.parameterMissing("id");
    checkAccountName(name);
    try {
      const apiKey = await createAccount(pool, services.aead, name, undefined, caller.roleId);
      res.status(201).json({ id: name, api_key: apiKey });
    } catch (err) {
      if (err instanceof AccountExistsError) throw accountExists(name);
      throw err;
    }
  });

  router.delete("/accounts/:id", auth, async (req: Request, res: Response) => {
    const name = req.params.id as string;
    if (!(await mayManageAccounts(pool, callerOf(res).roleId, "update"))) throw errors.forbidden();
    checkStorable("account", name, LIMITS.accountBytes);
    if (name === SYSTEM_ACCOUNT || !(await deleteAccount(pool, name)))
      throw errors.recordNotFound("!", "account", name);
    res.status(204).end();
  });

  return router;
}
