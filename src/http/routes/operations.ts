/** Liveness, readiness (the database answers, within a second) and Prometheus metrics. Unauthenticated. */
import { Router, type Request, type Response } from "express";
import { DatabaseProbe } from "../../storage/database-probe.js";
import type { Services } from "../services.js";

export function operationsRouter(services: Services, extraReadiness: () => string | undefined = () => undefined): Router {
  const router = Router();
  const probe = new DatabaseProbe(services.pool, 900, (result) => services.metrics.databaseUp.set(result.up ? 1 : 0));
  // Liveness never touches the database: an outage must not get the pod restarted.
  router.get("/health", (_req: Request, res: Response) => {
    res.json({ status: "ok" });
  });
  router.get("/ready", async (_req: Request, res: Response) => {
    const database = await probe.check();
    const problem = database.up ? extraReadiness() : database.reason;
    if (problem) res.status(503).json({ status: "unavailable", reason: problem });
    else res.json({ status: "ok" });
  });
  router.get("/metrics", async (_req: Request, res: Response) => {
    res.type(services.metrics.registry.contentType).send(await services.metrics.registry.metrics());
  });
  return router;
}
