/**
 * Liveness, readiness (the database answers, within a second), the controller's own health
 * and Prometheus metrics. Unauthenticated. The controller never affects /ready: a quiet
 * watch must not take the REST API or the webhook out of their Services.
 */
import { Router, type Request, type Response } from "express";
import { DatabaseProbe } from "../../storage/database-probe.js";
import type { Services } from "../services.js";

/** What GET /health/controller reports (src/kubernetes/controller.ts). */
export interface ControllerHealthView {
  healthy: boolean;
  leading: boolean;
  synced: boolean;
  lastEventAgeSeconds: number | undefined;
  reason: string | undefined;
}

export function operationsRouter(
  services: Services,
  controllerHealth: () => ControllerHealthView | undefined = () => undefined,
): Router {
  const router = Router();
  const probe = new DatabaseProbe(services.pool, 900, (result) => services.metrics.databaseUp.set(result.up ? 1 : 0));
  // Liveness never touches the database: an outage must not get the pod restarted.
  router.get("/health", (_req: Request, res: Response) => {
    res.json({ status: "ok" });
  });
  router.get("/ready", async (_req: Request, res: Response) => {
    // Draining (after SIGTERM, during --shutdown-delay): leave the Service's endpoints, keep answering.
    if (services.lifecycle?.draining)
      return void res.status(503).json({ status: "unavailable", reason: "shutting down" });
    const database = await probe.check();
    if (!database.up) res.status(503).json({ status: "unavailable", reason: database.reason });
    else res.json({ status: "ok" });
  });
  // 404 when this server runs no controller; 503 while leading with unsynced caches or a silent watch.
  router.get("/health/controller", (_req: Request, res: Response) => {
    const health = controllerHealth();
    if (!health)
      return void res.status(404).json({ error: { code: "not_found", message: "this server runs no controller" } });
    const { healthy, leading, synced, lastEventAgeSeconds, reason } = health;
    const body = {
      status: healthy ? "ok" : "unhealthy",
      leading,
      synced,
      lastEventAgeSeconds: lastEventAgeSeconds === undefined ? null : Math.round(lastEventAgeSeconds),
      ...(reason ? { reason } : {}),
    };
    res.status(healthy ? 200 : 503).json(body);
  });
  router.get("/metrics", async (_req: Request, res: Response) => {
    res.type(services.metrics.registry.contentType).send(await services.metrics.registry.metrics());
  });
  return router;
}
