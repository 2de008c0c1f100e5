/**
 * `GET /` — Conjur's status page. With `Accept: application/json` it answers
 * `{"version":"1.24.0"}`: the Go SDK and CLI read it (VerifyMinServerVersion) and enable
 * `--dry-run` and `policy fetch` only for a server that reports ≥ 1.21.1. We report the
 * Conjur API version whose behaviour we reproduce, not our own package version.
 */
import { Router, type Request, type Response } from "express";

export const CONJUR_API_VERSION = "1.24.0";

export function rootRouter(): Router {
  const router = Router();
  router.get("/", (req: Request, res: Response) => {
    if ((req.get("accept") ?? "").toLowerCase().includes("application/json")) {
      res.json({ version: CONJUR_API_VERSION });
      return;
    }
    res
      .type("text/html")
      .send(
        `<!DOCTYPE html>\n<html><head><title>Strongroom</title></head><body><h1>Strongroom</h1><p>A Conjur-compatible secrets server.</p><dl><dt>API</dt><dd>Version ${CONJUR_API_VERSION}</dd></dl></body></html>\n`,
      );
  });
  return router;
}
