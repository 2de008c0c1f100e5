/**
 * The chart as a GitOps tool installs it: `helm template` rendered, then `kubectl apply
 * --server-side --validate=strict` (fieldValidation=Strict: an unknown or duplicate field is an
 * error, not a warning). No `helm install`: nothing here relies on Helm's release machinery.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { helmPath, kubectlPath } from "../support/binaries.js";
import type { ControlPlane } from "./control-plane.js";

export const CHART = join(import.meta.dirname, "..", "..", "charts", "strongroom");
export const RELEASE = "strongroom";
export const NAMESPACE = "strongroom";

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: unknown;
}

export function helmTemplate(
  cp: ControlPlane,
  values: Record<string, unknown>,
): { yaml: string; manifests: Manifest[] } {
  const file = join(cp.dir, `values-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(values));
  const yaml = execFileSync(
    helmPath(),
    ["template", RELEASE, CHART, "--namespace", NAMESPACE, "--include-crds", "--values", file],
    { encoding: "utf8" },
  );
  const manifests = parseAllDocuments(yaml)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
  return { yaml, manifests };
}

/** Runs the real kubectl as the cluster admin; returns stdout, throws with stderr. */
export function kubectl(cp: ControlPlane, args: string[], input?: string): string {
  try {
    return execFileSync(kubectlPath(), ["--kubeconfig", cp.adminKubeconfig, ...args], {
      encoding: "utf8",
      input,
      stdio: ["pipe", "pipe", "pipe"],
    });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    // Tokens are long: keep the message readable.
    const shown = args.map((a) => (a.length > 80 ? `${a.slice(0, 12)}…` : a)).join(" ");
    throw new Error(`kubectl ${shown}: ${e.stderr ?? e.message}${e.stdout ?? ""}`, { cause: err });
  }
}

export function applyManifests(cp: ControlPlane, yaml: string): string {
  return kubectl(
    cp,
    ["apply", "--server-side", "--field-manager=gitops", "--force-conflicts", "--validate=strict", "-f", "-"],
    yaml,
  );
}

/** Namespaced-or-not, as kubectl needs to address one object. */
export function ref(m: Manifest): string[] {
  return [...(m.metadata.namespace ? ["-n", m.metadata.namespace] : []), m.kind.toLowerCase(), m.metadata.name];
}
