/**
 * Host factories (conjur-api-second-pass.md §6): `POST /host_factory_tokens` (200, an array),
 * `DELETE /host_factory_tokens/{token}` (204), and `POST /host_factories/hosts`, which takes the
 * raw factory token in `Authorization: Token token="…"` instead of an access token (201).
 * Tokens never reach logs: the request log records the route template, not the path.
 */
import { Router, type Request, type Response } from "express";
import { normalizeCidr } from "../../authn/cidr.js";
import { accessToOne } from "../../authz/permissions.js";
import { describeResources } from "../../authz/introspection.js";
import { fullId, parseFullId } from "../../authz/ids.js";
import { errors } from "../../errors.js";
import { checkStorable, LIMITS } from "../../input/limits.js";
import { createHost } from "../../hostfactory/create-host.js";
import { admits, deleteToken, findToken, issueTokens } from "../../hostfactory/tokens.js";
import { callerOf, requireToken } from "../middleware/authenticate.js";
import { RequestParams } from "../request-params.js";
import type { Services } from "../services.js";

const MAX_TOKENS_PER_REQUEST = 1000;
/** ISO 8601 as Ruby's DateTime.iso8601 reads it: a date, optionally a time and an offset (UTC when none). */
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

function parseExpiration(text: string, now: Date): Date {
  const invalid = () => errors.unprocessable(`Input is invalid ISO8601 datetime string: ${text.slice(0, 64)}`);
  const m = ISO_8601.exec(text);
  if (!m) throw invalid();
  const [year, month, day, hour = 0, minute = 0, second = 0] = m
    .slice(1, 7)
    .map((v) => (v === undefined ? undefined : Number(v))) as number[];
  const fraction = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  const zone = m[8]?.toUpperCase();
  const digits = !zone || zone === "Z" ? "0000" : zone.slice(1).replace(":", "").padEnd(4, "0");
  const offsetMinutes = (zone?.startsWith("-") ? -1 : 1) * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2)));
  const utc = Date.UTC(year!, month! - 1, day, hour, minute, second, fraction);
  const check = new Date(Date.UTC(year!, month! - 1, day));
  if (check.getUTCMonth() !== month! - 1 || check.getUTCDate() !== day! || hour > 23 || minute > 59 || second > 60)
    throw invalid();
  const when = new Date(utc - offsetMinutes * 60_000);
  if (when.getTime() <= now.getTime())
    throw errors.unprocessable(`Value for parameter expiration must be in the future: ${text.slice(0, 64)}`);
  return when;
}

/** `Token token="…"` with the raw factory token; undefined when the header is anything else. */
function factoryTokenOf(req: Request): string | undefined {
  const match = /^Token\s+token="([^"]{1,200})"$/i.exec(req.get("authorization") ?? "");
  return match?.[1];
}

export function hostFactoriesRouter(services: Services): Router {
  const router = Router();
  const { pool } = services;
  const auth = requireToken(services);

  /** The factory a caller names, checked as Conjur does: visible (404), a host factory (422), then the privilege (403). */
  const authorizedFactory = async (callerRoleId: string, factoryId: string, privilege: string): Promise<void> => {
    const parsed = parseFullId(factoryId);
    const id = parsed ? fullId(parsed.account, parsed.kind, parsed.identifier) : undefined;
    const access = id ? await accessToOne(pool, callerRoleId, id, privilege) : { visible: false, allowed: false };
    if (!parsed || !access.visible)
      throw errors.recordNotFound(
        parsed?.account ?? "*",
        parsed?.kind ?? "host_factory",
        parsed?.identifier ?? factoryId.slice(0, LIMITS.identifierBytes),
      );
    if (parsed.kind !== "host_factory") throw errors.argument(`Invalid resource kind: ${parsed.kind}`);
    if (!access.allowed) throw errors.forbidden();
  };

  router.post("/host_factory_tokens", auth, async (req: Request, res: Response) => {
    const caller = callerOf(res);
    const params = new RequestParams(req);
    const factoryId = params.one("host_factory");
    if (!factoryId) throw errors.argument("host_factory");
    await authorizedFactory(caller.roleId, factoryId, "execute");
    const expirationText = params.one("expiration");
    if (!expirationText) throw errors.argument("expiration");
    const expiration = parseExpiration(expirationText, new Date());
    const countText = params.one("count") ?? "1";
    if (!/^\d{1,4}$/.test(countText) || Number(countText) < 1 || Number(countText) > MAX_TOKENS_PER_REQUEST)
      throw errors.unprocessable(`Invalid value for parameter 'count': ${countText.slice(0, 64)}`);
    // The Python SDK sends `cidr[]=` (an empty entry) when no CIDR is given: that means none.
    const cidr = params
      .list("cidr")
      .filter((entry) => entry !== "")
      .map((entry) => {
        const parsed = normalizeCidr(entry);
        if ("error" in parsed) throw errors.unprocessable(parsed.error);
        return parsed.cidr;
      });
    res.status(200).json(await issueTokens(pool, factoryId, expiration, [...new Set(cidr)], Number(countText)));
  });

  router.delete("/host_factory_tokens/:token", auth, async (req: Request, res: Response) => {
    const caller = callerOf(res);
    const token = req.params.token as string;
    // The request log records the path: keep the token out of it.
    req.url = "/host_factory_tokens/[REDACTED]";
    const stored = await findToken(pool, token);
    if (!stored) throw errors.recordNotFound("*", "host_factory_token", token.slice(0, 128));
    await authorizedFactory(caller.roleId, stored.factoryId, "update");
    await deleteToken(pool, token);
    res.status(204).end();
  });

  router.post("/host_factories/hosts", async (req: Request, res: Response) => {
    const token = factoryTokenOf(req);
    const stored = token ? await findToken(pool, token) : undefined;
    // Missing, unknown, expired or from outside its CIDRs: one answer, so nothing is learned.
    if (!stored || !admits(stored, req.ip, new Date())) throw errors.unauthorized();
    const params = new RequestParams(req);
    const id = params.one("id");
    if (!id) throw errors.parameterMissing("id");
    checkStorable("id", id, LIMITS.identifierBytes);
    if (id.startsWith("conjur/") || id.startsWith("/conjur/")) throw errors.argument(`Invalid id: ${id}`);
    const annotations = params.hash("annotations");
    for (const [name, value] of Object.entries(annotations)) {
      checkStorable("annotation name", name, LIMITS.annotationNameBytes);
      checkStorable("annotation value", value, LIMITS.annotationValueBytes);
    }
    const { hostId, apiKey } = await createHost(pool, services.aead, { factoryId: stored.factoryId, id, annotations });
    const [host] = await describeResources(pool, [hostId]);
    const shown = {
      ...host,
      annotations: (host!.annotations as { name: string; value: string; policy: string | null }[]).map(
        ({ name, value, policy }) => (policy ? { name, value, policy } : { name, value }),
      ),
    };
    res.status(201).json({ ...shown, api_key: apiKey });
  });

  return router;
}
