/**
 * The admission webhook: HTTPS, `POST /mutate-pods`, AdmissionReview admission.k8s.io/v1.
 * Pods that did not opt in pass untouched; a malformed review is answered, never crashed on.
 */
import express, { type Request, type Response } from "express";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { V1Pod } from "@kubernetes/client-node";
import type { Metrics } from "../telemetry/metrics.js";
import { mutatePod } from "./mutate-pod.js";

interface AdmissionReview {
  apiVersion?: string;
  kind?: string;
  request?: { uid?: string; namespace?: string; operation?: string; object?: V1Pod; kind?: { kind?: string } };
}

export function reviewPod(review: AdmissionReview, metrics: Metrics, log: Logger): object {
  const request = review.request;
  const uid = request?.uid ?? "";
  const respond = (response: Record<string, unknown>): object => ({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid, ...response } });
  if (!request?.object || request.kind?.kind !== "Pod" || (request.operation && request.operation !== "CREATE")) {
    metrics.injections.inc({ outcome: "skipped" });
    return respond({ allowed: true });
  }
  const pod = request.object;
  const namespace = request.namespace ?? pod.metadata?.namespace ?? "default";
  const result = mutatePod(pod, namespace);
  const podName = pod.metadata?.name || `${pod.metadata?.generateName ?? ""}***** (name not yet known)`;
  if (result.kind === "skip") {
    metrics.injections.inc({ outcome: "skipped" });
    return respond({ allowed: true });
  }
  if (result.kind === "reject") {
    metrics.injections.inc({ outcome: "rejected" });
    log.info({ namespace, pod: podName, reason: result.message }, "webhook rejected pod");
    return respond({ allowed: false, status: { code: 400, reason: "BadRequest", message: result.message } });
  }
  metrics.injections.inc({ outcome: "injected" });
  log.info({ namespace, pod: podName, secret: result.secretName }, "webhook injected pod");
  if (!result.patch.length) return respond({ allowed: true });
  return respond({ allowed: true, patchType: "JSONPatch", patch: Buffer.from(JSON.stringify(result.patch)).toString("base64") });
}

export interface WebhookServer {
  port: number;
  /** Serve a renewed certificate to new connections (see src/http/tls-reloader.ts). */
  setSecureContext(options: { cert: Buffer; key: Buffer }): void;
  close(): Promise<void>;
}

export async function startWebhookServer(opts: { port: number; host: string; cert: Buffer; key: Buffer; metrics: Metrics; log: Logger }): Promise<WebhookServer> {
  const app = express();
  app.disable("x-powered-by");
  app.use(express.json({ limit: "3mb" }));
  app.post("/mutate-pods", (req: Request, res: Response) => {
    res.json(reviewPod(req.body as AdmissionReview, opts.metrics, opts.log));
  });
  app.get("/health", (_req: Request, res: Response) => {
    res.json({ status: "ok" });
  });
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: { code: "not_found", message: "not found" } });
  });
  app.use((err: { status?: number }, _req: Request, res: Response, _next: unknown) => {
    res.status(err.status && err.status < 500 ? err.status : 400).json({ error: { code: "bad_request", message: "malformed AdmissionReview" } });
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
