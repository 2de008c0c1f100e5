/**
 * The name of a pod's managed Secret. A persisted contract: every running pod's volume names
 * its Secret by it, so changing the derivation orphans them all after an upgrade
 * (test/unit/injection.test.ts pins known values).
 */
import { createHash } from "node:crypto";
import type { InjectionSpec } from "./annotations.js";
import { renderedContentKey } from "./secret-layout.js";

/**
 * The managed Secret's name. It must be known at admission, when a ReplicaSet pod has no
 * name yet, so it is derived from what decides the content: namespace, identity and the
 * file → variable map. Replicas of a Deployment therefore share one Secret.
 *
 * `rendered` (grouped files, formats, templates, env: secret-layout.ts renderedContentKey)
 * joins the hash input only when present, so pods that use only `secret.<file>` keep
 * exactly the name they had before grouped files existed.
 */
export function managedSecretName(
  namespace: string,
  identity: string,
  files: Record<string, string>,
  rendered?: unknown[],
): string {
  const parts: unknown[] = [namespace, identity, Object.entries(files).sort(([a], [b]) => a.localeCompare(b))];
  if (rendered !== undefined) parts.push(rendered);
  return `strongroom-${createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 20)}`;
}

/**
 * The identity part of the Secret's name: the service account always (two service accounts
 * claiming one host must never share a Secret), plus the claimed host if any.
 */
export function identityKey(spec: Pick<InjectionSpec, "host">, serviceAccountName: string | undefined): string {
  const sa = `sa:${serviceAccountName || "default"}`;
  return spec.host ? `${sa}|host:${spec.host}` : sa;
}

/** The Secret a Secret-mode pod uses, or undefined when it asks for no file and no env (a binding only). */
export function podSecretName(
  namespace: string,
  spec: Pick<InjectionSpec, "host" | "files" | "rendered">,
  serviceAccountName: string | undefined,
): string | undefined {
  if (!spec.rendered.files.length && !Object.keys(spec.rendered.env).length) return undefined;
  return managedSecretName(
    namespace,
    identityKey(spec, serviceAccountName),
    spec.files,
    renderedContentKey(spec.rendered),
  );
}
