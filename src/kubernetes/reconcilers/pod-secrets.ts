/**
 * Reconciles one managed Secret (key `<namespace>/<secret name>`) from the pods that use it.
 * Pods with the same identity and files share the Secret (its name is derived from them);
 * every such pod is an owner, so the Secret goes when the last pod goes, and we also delete
 * it ourselves when no pod in the cache uses it any more.
 *
 * Outcomes: resolved → Secret written, one Normal Event per Secret on its workload, pods
 * nudged (off this path) on change; denied (identity or permission) → no Secret, Warning
 * Events on the pods; missing variable or a file that cannot be rendered (binary value in a
 * text format) → no new Secret, the last good one stays, Warning Events; database
 * trouble → thrown, retried with backoff. Reads come from informer caches, never the API.
 */
import type { CoreV1Api, V1Pod, V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Aead } from "../../crypto/aead.js";
import type { Queryable } from "../../storage/database.js";
import type { Metrics } from "../../telemetry/metrics.js";
import {
  parseInjection,
  SECRET_NAME_ANNOTATION,
  SECRET_VERSION_ANNOTATION,
  type InjectionSpec,
} from "../injection/annotations.js";
import { podSecretName } from "../injection/secret-name.js";
import type { EventRecorder, EventTarget } from "../api/events.js";
import { statusOf } from "../api/kube-client.js";
import type { PodNudger } from "../runtime/pod-nudger.js";
import { DONE, type ReconcileResult, type Reconciler } from "./contract.js";
import type { FailureReporter } from "./report-failure.js";
import { podSecretData, podSecretVariables } from "./pod-secret-data.js";
import { resolveVariables } from "./resolve-files.js";
import { deleteOwnedSecret, isOwnedBy, writeSecret, type Claimant } from "./secret-writer.js";

export interface PodSecretsDeps {
  db: Queryable;
  aead: Aead;
  account: string;
  core: CoreV1Api;
  log: Logger;
  metrics: Metrics;
  events: EventRecorder;
  failures: FailureReporter;
  nudger: PodNudger;
  /** The pods (from the informer cache) that name this Secret. */
  podsFor: (key: string) => V1Pod[];
  /** Whether a pod (by uid) is still in the informer cache. */
  podCached: (uid: string) => boolean;
  /** The informer's copy of a managed Secret. */
  cachedSecret: (namespace: string, name: string) => V1Secret | undefined;
  /** Owner uids of a managed Secret the informer saw deleted (a tombstone), if any. */
  tombstone: (namespace: string, name: string) => string[] | undefined;
}

const DENIED_RETRY_MS = 15_000;
const PODS: Claimant = { kind: "Pod" };

export class PodSecrets implements Reconciler {
  constructor(private readonly deps: PodSecretsDeps) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace, name] = key.split("/") as [string, string];
    const candidates = this.deps
      .podsFor(key)
      .filter((p) => !p.metadata?.deletionTimestamp)
      .sort((a, b) => String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)));
    const { pods, spec } = this.#consistentPods(namespace, name, candidates);
    const cached = this.deps.cachedSecret(namespace, name);
    if (!spec) {
      // No pod (that may) use it any more: the sweep, of pod Secrets only.
      if (cached) await deleteOwnedSecret(this.deps.core, cached, PODS);
      this.deps.failures.clear(key);
      return DONE;
    }
    if (cached && !isOwnedBy(cached, PODS)) return this.#notOwned(key, pods, spec.refreshMs);
    const resolution = await resolveVariables(
      this.deps,
      { namespace, serviceAccount: pods[0]?.spec?.serviceAccountName || "default", host: spec.host },
      podSecretVariables(spec),
    );
    if (!resolution.ok) {
      if (resolution.reason !== "VariableNotFound" && cached) await deleteOwnedSecret(this.deps.core, cached, PODS);
      await this.deps.failures.report({
        key,
        reason: resolution.reason,
        message: resolution.message,
        targets: pods.map(podTarget),
      });
      return { variables: resolution.variables, requeueAfterMs: Math.min(spec.refreshMs, DENIED_RETRY_MS) };
    }
    const rendered = podSecretData(spec, resolution.values);
    if (!rendered.ok) {
      // Like a missing variable: the last good Secret stays; a rotation (or the retry) tries again.
      await this.deps.failures.report({
        key,
        reason: "RenderFailed",
        message: rendered.message,
        targets: pods.map(podTarget),
      });
      return { variables: resolution.variables, requeueAfterMs: Math.min(spec.refreshMs, DENIED_RETRY_MS) };
    }
    this.deps.failures.clear(key);
    // Pods deleted while we resolved are no owners (and no reason to create anything).
    const owners = pods.filter((p) => this.deps.podCached(uidOf(p)));
    if (!owners.length) return DONE;
    const written = await writeSecret(
      this.deps.core,
      {
        namespace,
        name,
        data: rendered.data,
        owners: owners.map((p) => ({ apiVersion: "v1", kind: "Pod", name: nameOf(p), uid: uidOf(p) })),
        annotations: { "strongroom.io/identity": resolution.roleId },
      },
      PODS,
      cached,
      () => this.#mayCreate(namespace, name, owners),
    );
    if (written.outcome === "notOwned") return this.#notOwned(key, owners, spec.refreshMs, resolution.variables);
    if (written.outcome === "created") {
      this.deps.events.record(
        workloadTarget(owners[0]!),
        "Normal",
        "SecretsInjected",
        `Secret ${name} created with ${spec.rendered.files.length} file(s) and ${Object.keys(spec.rendered.env).length} env variable(s) as ${resolution.roleId}`,
      );
    }
    if (written.outcome === "updated" && written.resourceVersion) {
      const targets = owners.map((p) => ({
        namespace,
        name: nameOf(p),
        current: p.metadata?.annotations?.[SECRET_VERSION_ANNOTATION],
      }));
      this.deps.nudger.nudge(targets, written.resourceVersion);
    }
    return { variables: resolution.variables, requeueAfterMs: spec.refreshMs };
  }

  /** The Secret's name is taken by something that is not these pods' (ADR 21): no write, told on every pod. */
  async #notOwned(key: string, pods: V1Pod[], refreshMs: number, variables: string[] = []): Promise<ReconcileResult> {
    const message = `Secret ${key} exists and is not managed by Strongroom for these pods; it is left as it is`;
    await this.deps.failures.report({ key, reason: "SecretNotOwned", message, targets: pods.map(podTarget) });
    return { variables, requeueAfterMs: Math.min(refreshMs, DENIED_RETRY_MS) };
  }

  /**
   * The garbage collector deletes a Secret only once all its owners are gone. When we saw
   * this Secret deleted and every pod we would make it for was among its owners, our pod
   * cache may be behind the deletions: ask the API before bringing it back.
   */
  async #mayCreate(namespace: string, name: string, pods: V1Pod[]): Promise<boolean> {
    const owners = this.deps.tombstone(namespace, name);
    if (!owners || !pods.every((p) => owners.includes(uidOf(p)))) return true;
    for (const pod of pods) {
      try {
        const live = await this.deps.core.readNamespacedPod({ namespace, name: nameOf(pod) });
        if (live.metadata?.uid === pod.metadata?.uid && !live.metadata?.deletionTimestamp) return true;
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    }
    return false;
  }

  /**
   * Pod annotations are mutable, so the Secret name a pod carries is checked against the
   * name its own namespace, service account, files and env give. A pod that names another
   * identity's Secret is ignored (and told so); it never becomes an owner or a source.
   */
  #consistentPods(
    namespace: string,
    name: string,
    candidates: V1Pod[],
  ): { pods: V1Pod[]; spec: InjectionSpec | undefined } {
    const pods: V1Pod[] = [];
    let spec: InjectionSpec | undefined;
    for (const pod of candidates) {
      const parsed = parseInjection(pod.metadata?.annotations ?? {});
      // Agent and init pods have no Secret by design, whatever labels or annotations they carry.
      if (!("problems" in parsed) && parsed.rendered.mode !== "secret") continue;
      const expected =
        "problems" in parsed ? undefined : podSecretName(namespace, parsed, pod.spec?.serviceAccountName);
      if (expected === name) {
        pods.push(pod);
        spec ??= parsed as InjectionSpec;
      } else {
        this.deps.metrics.denials.inc({ reason: "SecretNameMismatch" });
        this.deps.events.record(
          podTarget(pod),
          "Warning",
          "SecretNameMismatch",
          `annotation ${SECRET_NAME_ANNOTATION} does not match this pod's identity and files; ignored`,
        );
      }
    }
    return { pods, spec };
  }
}

/** Pods in the informer cache always carry these (the API server sets them): "" never matches a real one. */
const nameOf = (pod: V1Pod): string => pod.metadata?.name ?? "";
const uidOf = (pod: V1Pod): string => pod.metadata?.uid ?? "";
const namespaceOf = (pod: V1Pod): string => pod.metadata?.namespace ?? "";

const podTarget = (pod: V1Pod): EventTarget => ({
  kind: "Pod",
  apiVersion: "v1",
  namespace: namespaceOf(pod),
  name: nameOf(pod),
  uid: pod.metadata?.uid,
});

/** The pod's controller (ReplicaSet, StatefulSet, Job…) when it has one: one Event per workload, not per pod. */
function workloadTarget(pod: V1Pod): EventTarget {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller);
  if (!owner) return podTarget(pod);
  return {
    kind: owner.kind,
    apiVersion: owner.apiVersion,
    namespace: namespaceOf(pod),
    name: owner.name,
    uid: owner.uid,
  };
}
