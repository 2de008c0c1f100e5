/**
 * The admission webhook's HTTP adapter: HTTPS, `POST /mutate-pods`, AdmissionReview
 * admission.k8s.io/v1. The decision is src/kubernetes/webhook/review-pod.ts; a malformed
 * review is answered, never crashed on.
 */
import express, { type Request, type Response } from "express";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Metrics } from "../../telemetry/metrics.js";
import { reviewPod, type AdmissionReview } from "../../kubernetes/webhook/review-pod.js";
import type { AgentInjectionOptions } from "../../kubernetes/webhook/agent-patch.js";

export interface WebhookServer {
  port: number;
  /** Serve a renewed certificate to new connections (see src/http/tls-reloader.ts). */
  setSecureContext(options: { cert: Buffer; key: Buffer }): void;
  close(): Promise<void>;
}

export async function startWebhookServer(opts: {
  port: number;
  host: string;
  cert: Buffer;
  key: Buffer;
  metrics: Metrics;
  log: Logger;
  agent?: AgentInjectionOptions;
}): Promise<WebhookServer> {
  const app = express();
  app.disable("x-powered-by");
  app.use(express.json({ limit: "3mb" }));
  app.post("/mutate-pods", (req: Request, res: Response) => {
    res.json(reviewPod(req.body as AdmissionReview, opts.metrics, opts.log, opts.agent));
  });
  app.get("/health", (_req: Request, res: Response) => {
    res.json({ status: "ok" });
  });
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: { code: "not_found", message: "not found" } });
  });
  app.use((err: { status?: number }, _req: Request, res: Response, _next: unknown) => {
    res
      .status(err.status && err.status < 500 ? err.status : 400)
      .json({ error: { code: "bad_request", message: "malformed AdmissionReview" } });
  });
  const server = https.createServer({ cert: opts.cert, key: opts.key }, app);
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(opts.port, opts.host, ok);
  });
  return {
    port: (server.address() as AddressInfo).port,
    setSecureContext: (options) => server.setSecureContext(options),
    close: () =>
      new Promise((ok) => {
        server.close(() => ok());
        server.closeIdleConnections();
      }),
  };
}
