/** Kubernetes Events on the objects we act for (denials, failures, syncs). */
import type { CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "pino";

export interface EventTarget {
  kind: "Pod" | "SecretBinding";
  apiVersion: string;
  namespace: string;
  name: string;
  uid: string | undefined;
}

export async function recordEvent(core: CoreV1Api, log: Logger, target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
  const now = new Date();
  try {
    await core.createNamespacedEvent({
      namespace: target.namespace,
      body: {
        metadata: { generateName: `${target.name}.`, namespace: target.namespace },
        involvedObject: { kind: target.kind, apiVersion: target.apiVersion, namespace: target.namespace, name: target.name, ...(target.uid ? { uid: target.uid } : {}) },
        reason,
        message,
        type,
        source: { component: "strongroom" },
        reportingComponent: "strongroom.io/controller",
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  } catch (err) {
    log.warn({ err: (err as Error).message, reason }, "could not record event");
  }
}
