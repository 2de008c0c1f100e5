/**
 * Reconciles one managed Secret (key `<namespace>/<secret name>`) from the pods that use it.
 * Pods with the same identity and files share the Secret (its name is derived from them);
 * every such pod is an owner, so the Secret goes when the last pod goes, and we also delete
 * it ourselves when no pod in the cache uses it any more.
 *
 * Outcomes: resolved → Secret written (and pods annotated on change so the kubelet syncs at
 * once); denied (identity or permission) → no Secret, a Warning Event on the pods; missing
 * variable → no new Secret, the last good one stays; database trouble → thrown, retried.
 */
import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Aead } from "../../crypto/aead.js";
import type { Queryable } from "../../storage/database.js";
import type { Metrics } from "../../telemetry/metrics.js";
import { parseInjection, SECRET_NAME_ANNOTATION, SECRET_VERSION_ANNOTATION, type InjectionSpec } from "../injection/annotations.js";
import { identityKey, managedSecretName } from "../injection/secret-name.js";
import { recordEvent } from "../api/events.js";
import { mergePatch, statusOf } from "../api/kube-client.js";
import { resolveFiles } from "./resolve-files.js";
import { deleteSecret, writeSecret } from "./secret-writer.js";

export interface ReconcileResult {
  /** Variables this key depends on (for rotation), empty when the key is gone. */
  variables: string[];
  /** When to re-resolve as a safety net; undefined when nothing to refresh. */
  refreshMs: number | undefined;
}

export interface PodSecretsDeps {
  db: Queryable;
  aead: Aead;
  account: string;
  core: CoreV1Api;
  log: Logger;
  metrics: Metrics;
  pods: () => V1Pod[];
}

const DENIED_RETRY_MS = 15_000;

export class PodSecrets {
  /** Last denial reason per key, so a denial is reported once, not on every retry. */
  readonly #reported = new Map<string, string>();

  constructor(private readonly deps: PodSecretsDeps) {}

  static keyOf(pod: V1Pod): string | undefined {
    const name = pod.metadata?.annotations?.[SECRET_NAME_ANNOTATION];
    return name && pod.metadata?.namespace ? `${pod.metadata.namespace}/${name}` : undefined;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace, name] = key.split("/") as [string, string];
    const candidates = this.deps
      .pods()
      .filter((p) => p.metadata?.namespace === namespace && p.metadata.annotations?.[SECRET_NAME_ANNOTATION] === name && !p.metadata.deletionTimestamp)
      .sort((a, b) => String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)));
    const { pods, spec } = await this.#consistentPods(namespace, name, candidates);
    if (!spec) {
      // No pod (that may) use it any more.
      await deleteSecret(this.deps.core, namespace, name);
      this.#reported.delete(key);
      return { variables: [], refreshMs: undefined };
    }
    const resolution = await resolveFiles(
      this.deps,
      { namespace, serviceAccount: pods[0]!.spec?.serviceAccountName || "default", host: spec.host },
      spec.files,
    );
    if (!resolution.ok) {
      if (resolution.reason !== "VariableNotFound") await deleteSecret(this.deps.core, namespace, name);
      await this.#deny(key, pods, resolution.reason, resolution.message);
      return { variables: resolution.variables, refreshMs: Math.min(spec.refreshMs, DENIED_RETRY_MS) };
    }
    this.#reported.delete(key);
    const owners = pods.map((p) => ({ apiVersion: "v1", kind: "Pod", name: p.metadata!.name!, uid: p.metadata!.uid! }));
    const written = await writeSecret(this.deps.core, { namespace, name, data: resolution.data, owners, annotations: { "strongroom.io/identity": resolution.roleId } });
    if (written.outcome === "created") {
      for (const pod of pods) await recordEvent(this.deps.core, this.deps.log, podTarget(pod), "Normal", "SecretsInjected", `Secret ${name} created with ${Object.keys(spec.files).length} file(s) as ${resolution.roleId}`);
    }
    if (written.outcome === "updated") await this.#nudge(pods, written.resourceVersion);
    return { variables: resolution.variables, refreshMs: spec.refreshMs };
  }

  /**
   * Pod annotations are mutable, so the Secret name a pod carries is checked against the
   * name its own namespace, service account and files give. A pod that names another
   * identity's Secret is ignored (and told so); it never becomes an owner or a source.
   */
  async #consistentPods(namespace: string, name: string, candidates: V1Pod[]): Promise<{ pods: V1Pod[]; spec: InjectionSpec | undefined }> {
    const pods: V1Pod[] = [];
    let spec: InjectionSpec | undefined;
    for (const pod of candidates) {
      const parsed = parseInjection(pod.metadata?.annotations ?? {});
      const expected = "problems" in parsed ? undefined : managedSecretName(namespace, identityKey(parsed, pod.spec?.serviceAccountName), parsed.files);
      if (expected === name) {
        pods.push(pod);
        spec ??= parsed as InjectionSpec;
      } else {
        this.deps.metrics.denials.inc({ reason: "SecretNameMismatch" });
        await recordEvent(this.deps.core, this.deps.log, podTarget(pod), "Warning", "SecretNameMismatch", `annotation ${SECRET_NAME_ANNOTATION} does not match this pod's identity and files; ignored`);
      }
    }
    return { pods, spec };
  }

  async #deny(key: string, pods: V1Pod[], reason: string, message: string): Promise<void> {
    this.deps.metrics.denials.inc({ reason });
    if (this.#reported.get(key) === reason) return;
    this.#reported.set(key, reason);
    this.deps.log.warn({ secret: key, reason, message }, "pod secrets denied");
    for (const pod of pods) await recordEvent(this.deps.core, this.deps.log, podTarget(pod), "Warning", reason, message);
  }

  /** Any change to the pod makes the kubelet sync its volumes now instead of within ~90 s. */
  async #nudge(pods: V1Pod[], version: string | undefined): Promise<void> {
    for (const pod of pods) {
      try {
        await this.deps.core.patchNamespacedPod(
          { namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, body: { metadata: { annotations: { [SECRET_VERSION_ANNOTATION]: version ?? "" } } } },
          mergePatch,
        );
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    }
  }
}

const podTarget = (pod: V1Pod) => ({ kind: "Pod" as const, apiVersion: "v1", namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, uid: pod.metadata!.uid });
