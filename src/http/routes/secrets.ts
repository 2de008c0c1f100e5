/** `/secrets`: add a version, fetch one, fetch a batch. */
import { isUtf8 } from "node:buffer";
import { Router, type Request, type Response } from "express";
import { fullId } from "../../authz/ids.js";
import { errors } from "../../errors.js";
import { LIMITS } from "../../input/limits.js";
import { addVersion, clearExpirations } from "../../secrets/add-version.js";
import { reasonOf } from "../../audit/audit.js";
import { fetchBatchAccounted } from "../../secrets/fetch-batch.js";
import { fetchSecret } from "../../secrets/fetch-secret.js";
import { auditContext } from "../audit-context.js";
import { callerOf, requireToken } from "../middleware/authenticate.js";
import { accountOf, acceptsBase64Exactly, hasQuery, identifierOf, queryString, rawBody } from "../params.js";
import type { Services } from "../services.js";

const VARIABLE_PATH = "/secrets/:account/:kind/*identifier";

function variableId(req: Request): string {
  const account = accountOf(req);
  if (req.params.kind !== "variable") throw errors.routeNotFound(req.method, req.path);
  return fullId(account, "variable", identifierOf(req));
}

/**
 * The ids of a batch, from the query (Conjur's GET) or a form body (our POST, for proxies that
 * cap URLs). Ruby's `split(',')`: trailing empty items are dropped; any other empty item is an error.
 */
function batchIds(req: Request): string[] {
  const form = req.method === "POST" ? new URLSearchParams(rawBody(req).toString("utf8")) : undefined;
  const param = (name: string) => (form ? (form.get(name) ?? undefined) : queryString(req, name));
  const raw = param("variable_ids") ?? param("variable_id") ?? "";
  if (raw.includes("\0")) throw errors.argument("variable_ids may not contain NUL bytes");
  const ids = raw.split(",");
  while (ids.length && ids[ids.length - 1] === "") ids.pop();
  if (ids.length === 0 || ids.some((id) => id === "")) throw errors.argument("variable_ids");
  if (ids.length > LIMITS.batchIds) throw errors.argument(`variable_ids: at most ${LIMITS.batchIds} ids per batch`);
  return ids;
}

export function secretsRouter(services: Services): Router {
  const router = Router();
  const auth = requireToken(services);
  const deps = {
    pool: services.pool,
    db: services.pool,
    aead: services.aead,
    keep: services.config.secretVersionsKept,
  };

  router.post(VARIABLE_PATH, auth, async (req: Request, res: Response) => {
    const id = variableId(req);
    const caller = callerOf(res);
    if (hasQuery(req, "expirations")) {
      const context = auditContext(req, res, "clear-expirations", { resource: id });
      await services.audit.aroundCommit(context, (beforeCommit) =>
        clearExpirations({ ...deps, beforeCommit }, caller.roleId, id),
      );
      res.status(201).end();
      return;
    }
    const context = auditContext(req, res, "write-secret", { resource: id });
    const result = await services.audit.aroundCommit(context, (beforeCommit) =>
      addVersion({ ...deps, beforeCommit }, caller.roleId, id, rawBody(req)),
    );
    if (result.created) services.metrics.secretsWritten.inc();
    res.status(201).end();
  });

  router.get(VARIABLE_PATH, auth, async (req: Request, res: Response) => {
    const id = variableId(req);
    const caller = callerOf(res);
    const versionParam = queryString(req, "version");
    if (hasQuery(req, "version") && !/^[1-9]\d{0,8}$/.test(versionParam ?? ""))
      throw errors.argument("invalid type for parameter 'version'");
    const context = auditContext(req, res, "read-secret", { resource: id });
    const secret = await services.audit.around(context, () =>
      fetchSecret(deps, caller.roleId, id, versionParam ? Number(versionParam) : null),
    );
    services.metrics.secretsRead.inc();
    res.status(200).type(secret.mimeType).send(secret.value);
  });

  const batch = async (req: Request, res: Response): Promise<void> => {
    const caller = callerOf(res);
    const ids = batchIds(req);
    // One audit record per variable, written (one write) before any value leaves.
    const context = auditContext(req, res, "read-secret");
    const result = await fetchBatchAccounted(deps, caller.roleId, ids).catch(async (err: unknown) => {
      await services.audit.recordEach(
        context,
        [...new Set(ids)].map((id) => [id, reasonOf(err)] as const),
      );
      throw err;
    });
    if ("error" in result) {
      await services.audit.recordEach(context, result.refusals);
      throw result.error;
    }
    const values = result.values;
    const base64 = acceptsBase64Exactly(req);
    const unencodable = !base64 && [...values.values()].some((value) => !isUtf8(value));
    await services.audit.recordEach(
      context,
      [...values.keys()].map((id) => [id, unencodable ? "406 not_acceptable" : undefined] as const),
    );
    if (unencodable) throw errors.notAcceptable();
    const body: Record<string, string> = {};
    for (const [id, value] of values) body[id] = base64 ? value.toString("base64") : value.toString("utf8");
    services.metrics.secretsRead.inc(values.size);
    if (base64) res.setHeader("Content-Encoding", "base64");
    res.status(200).json(body);
  };
  router.get("/secrets", auth, batch);
  // Our extension: the same batch as a form body (`variable_ids=a,b`), for proxies that cap URLs.
  router.post("/secrets", auth, batch);

  return router;
}
