/**
 * The webhook's answer to one AdmissionReview (admission.k8s.io/v1): pods that did not opt
 * in pass untouched, bad annotations are refused with the reason, the rest get a JSONPatch.
 * No HTTP here: src/http/webhook/webhook-server.ts is the adapter.
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Metrics } from "../../telemetry/metrics.js";
import { mutatePod } from "./mutate-pod.js";
import type { AgentInjectionOptions } from "./agent-patch.js";

export interface AdmissionReview {
  apiVersion?: string;
  kind?: string;
  request?: { uid?: string; namespace?: string; operation?: string; object?: V1Pod; kind?: { kind?: string } };
}

export function reviewPod(
  review: AdmissionReview,
  metrics: Metrics,
  log: Logger,
  agent?: AgentInjectionOptions,
): object {
  const request = review.request;
  const uid = request?.uid ?? "";
  const respond = (response: Record<string, unknown>): object => ({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: { uid, ...response },
  });
  if (!request?.object || request.kind?.kind !== "Pod" || (request.operation && request.operation !== "CREATE")) {
    metrics.injections.inc({ outcome: "skipped" });
    return respond({ allowed: true });
  }
  const pod = request.object;
  const namespace = request.namespace ?? pod.metadata?.namespace ?? "default";
  const result = mutatePod(pod, namespace, agent);
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
  return respond({
    allowed: true,
    patchType: "JSONPatch",
    patch: Buffer.from(JSON.stringify(result.patch)).toString("base64"),
  });
}
