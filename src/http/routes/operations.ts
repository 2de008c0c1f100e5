/** Liveness, readiness (the database answers) and Prometheus metrics. Unauthenticated. */
import { Router, type Request, type Response } from "express";
import type { Services } from "../services.js";

export function operationsRouter(services: Services, extraReadiness: () => string | undefined = () => undefined): Router {
  const router = Router();
  router.get("/health", (_req: Request, res: Response) => {
    res.json({ status: "ok" });
  });
  router.get("/ready", async (_req: Request, res: Response) => {
    try {
      await services.pool.query("SELECT 1");
    } catch {
      res.status(503).json({ status: "unavailable", reason: "database unreachable" });
      return;
    }
    const problem = extraReadiness();
    if (problem) res.status(503).json({ status: "unavailable", reason: problem });
    else res.json({ status: "ok" });
  });
  router.get("/metrics", async (_req: Request, res: Response) => {
    res.type(services.metrics.registry.contentType).send(await services.metrics.registry.metrics());
  });
  return router;
}
