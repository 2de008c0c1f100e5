/** `/authn/{account}/…`: authenticate, login, API key rotation, password; and `/whoami`. */
import { Router, type Request, type Response } from "express";
import {
  apiKeyLoginOf,
  apiKeyMatches,
  apiKeyOf,
  checkApiKeyOrPassword,
  rotateApiKey,
  rotatedAt,
  setPassword,
} from "../../authn/credentials.js";
import { assertPasswordComplexity } from "../../authn/passwords.js";
import { isClientAllowed, ORIGIN_REFUSED } from "../../authn/restrictions.js";
import { railsTime } from "../../authz/introspection.js";
import { accessToOne, roleExists } from "../../authz/permissions.js";
import { canLogIn, parseFullId, parseRoleParam, roleIdForLogin, fullId } from "../../authz/ids.js";
import { errors } from "../../errors.js";
import { authenticateRequest, callerOf, requireToken } from "../middleware/authenticate.js";
import { accountOf, queryString, rawBody } from "../params.js";
import { sendAccessToken } from "../token-response.js";
import { inTransaction } from "../../storage/database.js";
import { auditContext } from "../audit-context.js";
import type { Services } from "../services.js";

interface BasicCredentials {
  login: string;
  secret: Buffer;
}

function basicCredentials(req: Request): BasicCredentials | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(req.get("authorization") ?? "");
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, "base64");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return undefined;
  return { login: decoded.subarray(0, colon).toString("utf8"), secret: decoded.subarray(colon + 1) };
}

export function authnRouter(services: Services): Router {
  const router = Router();
  const { pool, aead, audit, metrics, authnThrottle } = services;
  type Action = "authenticate" | "login" | "rotate-api-key" | "set-password";
  /** Awaited before answering: audit fails closed. */
  const record = async (
    req: Request,
    res: Response,
    action: Action,
    role: string,
    ok: boolean,
    reason?: string,
  ): Promise<void> => {
    if (action === "authenticate" || action === "login") metrics.authn.inc({ outcome: ok ? "success" : "failure" });
    await audit.record({
      ...auditContext(req, res, action, { role }),
      outcome: ok ? "success" : "failure",
      ...(reason ? { reason } : {}),
    });
  };

  /**
   * Every credential check: refused unchecked (429) while the role or the client address
   * is throttled; a failure counts against both and answers 401; a success resets the role.
   */
  const checkCredential = async (
    req: Request,
    res: Response,
    action: Action,
    roleId: string,
    check: () => Promise<boolean>,
  ): Promise<void> => {
    const refusal = authnThrottle.refusal(roleId, req.ip);
    if (refusal) {
      metrics.authnThrottled.inc({ reason: refusal.reason });
      await record(req, res, action, roleId, false, `429 throttled by ${refusal.reason}`);
      throw errors.tooManyAuthnFailures(refusal.retryAfterSeconds);
    }
    if (!(await check())) {
      authnThrottle.failed(roleId, req.ip);
      await record(req, res, action, roleId, false, "401 invalid credentials");
      throw errors.unauthorized();
    }
    authnThrottle.succeeded(roleId);
  };

  /** Basic auth as `account`; 401 for anything wrong. Returns the caller's role id. */
  const basicLogin = async (
    req: Request,
    res: Response,
    action: "login" | "rotate-api-key" | "set-password",
  ): Promise<string> => {
    const account = accountOf(req);
    const creds = basicCredentials(req);
    if (!creds) throw errors.unauthorized();
    const roleId = roleIdForLogin(account, creds.login);
    await checkCredential(req, res, action, roleId, () => checkApiKeyOrPassword(pool, aead, roleId, creds.secret));
    return roleId;
  };

  router.post("/authn/:account/:login/authenticate", async (req: Request, res: Response) => {
    const account = accountOf(req);
    const login = req.params.login as string;
    const roleId = roleIdForLogin(account, login);
    let restrictedTo: readonly string[] = [];
    await checkCredential(req, res, "authenticate", roleId, async () => {
      const credentials = await apiKeyLoginOf(pool, roleId);
      restrictedTo = credentials?.restrictedTo ?? [];
      return apiKeyMatches(aead, roleId, credentials, rawBody(req));
    });
    if (!isClientAllowed(restrictedTo, req.ip)) {
      await record(req, res, "authenticate", roleId, false, `401 ${ORIGIN_REFUSED}`);
      throw errors.unauthorized();
    }
    await record(req, res, "authenticate", roleId, true);
    const token = await services.tokens.issue(account, login.startsWith("user/") ? login.slice(5) : login);
    sendAccessToken(req, res, token);
  });

  router.get("/authn/:account/login", async (req: Request, res: Response) => {
    const roleId = await basicLogin(req, res, "login");
    await record(req, res, "login", roleId, true);
    const key = await apiKeyOf(pool, aead, roleId);
    res.status(200).type("text/plain").send(key);
  });

  router.get("/authn/:account/api_key", requireToken(services), async (req: Request, res: Response) => {
    const caller = callerOf(res);
    const target = queryString(req, "role")
      ? parseRoleParam(queryString(req, "role")!, caller.account)
      : parseFullId(caller.roleId);
    if (!target) throw errors.argument("role");
    const roleId = fullId(target.account, target.kind, target.identifier);
    const access = await accessToOne(pool, caller.roleId, roleId, "read");
    const when = access.visible ? await rotatedAt(pool, roleId) : undefined;
    if (!when) throw errors.recordNotFound(target.account, target.kind, target.identifier);
    res.json({ role: roleId, timestamp: when.toISOString() });
  });

  router.put("/authn/:account/api_key", async (req: Request, res: Response) => {
    const account = accountOf(req);
    const roleParam = queryString(req, "role");
    if (basicCredentials(req)) {
      const self = await basicLogin(req, res, "rotate-api-key");
      const target = roleParam ? parseRoleParam(roleParam, account) : undefined;
      if (target && fullId(target.account, target.kind, target.identifier) !== self)
        throw errors.unauthorized("Operation attempted against foreign user");
      // Recorded inside the transaction: a rotation that cannot be audited rolls back.
      const key = await inTransaction(pool, async (db) => {
        const rotated = await rotateApiKey(db, aead, self);
        await record(req, res, "rotate-api-key", self, true);
        return rotated;
      });
      res.status(200).type("text/plain").send(key);
      return;
    }
    const caller = await authenticateRequest(services, req, res);
    const target = roleParam ? parseRoleParam(roleParam, account) : undefined;
    const targetId = target ? fullId(target.account, target.kind, target.identifier) : caller.roleId;
    const key = await audit.aroundCommit(
      auditContext(req, res, "rotate-api-key", { resource: targetId }),
      async (beforeCommit) => {
        if (targetId === caller.roleId) throw errors.unauthorized("Credential strength is insufficient");
        const access = await accessToOne(pool, caller.roleId, targetId, "update");
        if (!access.visible || !(await roleExists(pool, targetId))) {
          throw errors.rotationTargetNotFound(targetId, caller.roleId);
        }
        if (!canLogIn(target!.kind))
          throw access.allowed
            ? errors.methodNotAllowed(`CONJ00124E Operation is not supported for role kind '${target!.kind}'`)
            : errors.forbidden();
        if (!access.allowed) throw errors.forbidden();
        return inTransaction(pool, async (db) => {
          const rotated = await rotateApiKey(db, aead, targetId);
          await beforeCommit();
          return rotated;
        });
      },
    );
    res.status(200).type("text/plain").send(key);
  });

  router.put("/authn/:account/password", async (req: Request, res: Response) => {
    if (!basicCredentials(req)) throw errors.unauthorized();
    const roleId = await basicLogin(req, res, "set-password");
    if (parseFullId(roleId)!.kind !== "user") throw errors.forbidden();
    const password = rawBody(req).toString("utf8");
    assertPasswordComplexity(password);
    await inTransaction(pool, async (db) => {
      await setPassword(db, aead, roleId, password);
      await record(req, res, "set-password", roleId, true);
    });
    res.status(204).end();
  });

  router.get("/whoami", requireToken(services), (req: Request, res: Response) => {
    const caller = callerOf(res);
    res.json({
      client_ip: req.ip,
      user_agent: req.get("user-agent") ?? null,
      account: caller.account,
      username: caller.login,
      token_issued_at: railsTime(new Date(caller.iat * 1000)), // Rails' JSON time, as Conjur: …000+00:00
    });
  });

  return router;
}
