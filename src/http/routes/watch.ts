/**
 * `GET /secrets/watch?variable_ids=…&cursor=…&timeout=…[&stream=true]`: a long-poll for agents
 * (or, with stream=true, every answer on one response: watch-stream.ts). A long-poll answers
 * at once when the caller's cursor is stale (or absent), else when one of the variables
 * gets a new version, else after `timeout` seconds; always `{"changed", "cursor"}`.
 * Authorized as a batch read: exactly, on every answer (a revoked permission shows on the
 * next one); a re-arm with the current cursor costs no statement. Thousands of agents cost
 * one LISTEN connection, the stream's own connection and a timer each: the fan-out is in
 * memory (secrets/watch-hub.ts).
 */
import { Router, type Request, type Response } from "express";
import { errors } from "../../errors.js";
import { LIMITS } from "../../input/limits.js";
import { WatchHubFullError, type ClientGone } from "../../secrets/watch-hub.js";
import { callerOf, requireToken } from "../middleware/authenticate.js";
import { queryString } from "../params.js";
import type { Services } from "../services.js";
import { serveStream } from "./watch-stream.js";

export const WATCH_LIMITS = Object.freeze({
  ids: LIMITS.batchIds,
  cursorChars: 64,
  defaultTimeoutSeconds: 30,
  maxTimeoutSeconds: 300,
});

function watchIds(req: Request): string[] {
  const raw = queryString(req, "variable_ids") ?? "";
  const ids = raw.split(",");
  while (ids.length && ids[ids.length - 1] === "") ids.pop();
  if (ids.length === 0 || ids.some((id) => id === "")) throw errors.argument("variable_ids");
  if (ids.length > WATCH_LIMITS.ids) throw errors.argument(`variable_ids: at most ${WATCH_LIMITS.ids} ids per watch`);
  return [...new Set(ids)];
}

function streamed(req: Request): boolean {
  const raw = queryString(req, "stream");
  if (raw === undefined || raw === "false") return false;
  if (raw === "true") return true;
  throw errors.argument("stream must be true or false");
}

function timeoutSeconds(req: Request): number {
  const raw = queryString(req, "timeout");
  if (raw === undefined) return WATCH_LIMITS.defaultTimeoutSeconds;
  const n = /^\d{1,4}$/.test(raw) ? Number(raw) : 0;
  if (n < 1 || n > WATCH_LIMITS.maxTimeoutSeconds)
    throw errors.argument(`timeout must be an integer from 1 to ${WATCH_LIMITS.maxTimeoutSeconds} (seconds)`);
  return n;
}

export function watchRouter(services: Services): Router {
  const router = Router();
  const outcomes = services.metrics.secretWatchResponses;

  router.get("/secrets/watch", requireToken(services), async (req: Request, res: Response) => {
    const hub = services.watchHub;
    if (!hub) throw errors.unavailable("this server does not serve watches");
    const roleId = callerOf(res).roleId;
    const ids = watchIds(req);
    const timeout = timeoutSeconds(req);
    const stream = streamed(req);
    const known = queryString(req, "cursor");
    if (known !== undefined && known.length > WATCH_LIMITS.cursorChars) throw errors.argument("cursor");
    // The response's close (client gone), not the request's: the request closes once its body is read.
    // Only a close before our answer counts (a plain flag and callback: see ClientGone).
    const client: ClientGone = { gone: false, onGone: undefined };
    res.on("close", () => {
      if (res.writableEnded) return;
      (client as { gone: boolean }).gone = true;
      client.onGone?.();
    });
    services.metrics.secretWatchers.inc();
    if (stream) {
      const untilMs = callerOf(res).exp * 1000;
      const watch = { hub, roleId, ids, known, timeoutMs: timeout * 1000, untilMs, client };
      return serveStream(services, res, watch).finally(() => services.metrics.secretWatchers.dec());
    }
    let answer;
    try {
      // Privileges first (inside): a caller who may not read these never gets to hold a watch.
      answer = await hub.watch(services.pool, roleId, ids, known, timeout * 1000, client);
    } catch (err) {
      if (!(err instanceof WatchHubFullError)) throw err;
      outcomes.inc({ outcome: "refused" });
      throw errors.unavailable("too many watches on this server; retry later");
    } finally {
      services.metrics.secretWatchers.dec();
    }
    if (answer === "aborted") {
      if (!res.writableEnded && !client.gone) throw errors.unavailable("the server is shutting down");
      return;
    }
    outcomes.inc({ outcome: answer.changed ? "changed" : "unchanged" });
    // Written directly, not through res.json: a wave answers thousands at once, and Express's
    // content-type and freshness work was a tenth of that (bench/README.md, agents).
    const body = JSON.stringify(answer);
    res
      .writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body) })
      .end(body);
  });

  return router;
}
