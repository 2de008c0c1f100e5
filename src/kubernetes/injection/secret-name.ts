/**
 * The name of a pod's managed Secret. A persisted contract: every running pod's volume names
 * its Secret by it, so changing the derivation orphans them all after an upgrade
 * (test/unit/secret-name.test.ts pins known values).
 */
import { createHash } from "node:crypto";
import type { InjectionSpec } from "./annotations.js";

/**
 * The managed Secret's name. It must be known at admission, when a ReplicaSet pod has no
 * name yet, so it is derived from what decides the content: namespace, identity and the
 * file → variable map. Replicas of a Deployment therefore share one Secret.
 */
export function managedSecretName(namespace: string, identity: string, files: Record<string, string>): string {
  const canonical = JSON.stringify([namespace, identity, Object.entries(files).sort(([a], [b]) => a.localeCompare(b))]);
  return `strongroom-${createHash("sha256").update(canonical).digest("hex").slice(0, 20)}`;
}

/**
 * The identity part of the Secret's name: the service account always (two service accounts
 * claiming one host must never share a Secret), plus the claimed host if any.
 */
export function identityKey(spec: Pick<InjectionSpec, "host">, serviceAccountName: string | undefined): string {
  const sa = `sa:${serviceAccountName || "default"}`;
  return spec.host ? `${sa}|host:${spec.host}` : sa;
}
