/**
 * Reconciles a SecretBinding (key `<namespace>/<name>`): resolve its items as its identity,
 * keep its own Secret (owned by the binding) in sync, and report status: a Ready condition
 * with a reason, observedGeneration and lastSyncTime.
 */
import type { CoreV1Api, CustomObjectsApi, V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Aead } from "../../crypto/aead.js";
import type { Queryable } from "../../storage/database.js";
import type { Metrics } from "../../telemetry/metrics.js";
import { DEFAULT_REFRESH_MS, parseDuration } from "../injection/annotations.js";
import type { EventRecorder } from "../api/events.js";
import { SECRET_BINDING } from "../api/kube-client.js";
import { fileNameProblem } from "../../render/file-name.js";
import { resolveFiles } from "./resolve-files.js";
import { deleteOwnedSecret, isOwnedBy, writeSecret, type Claimant } from "./secret-writer.js";
import { DONE, type ReconcileResult, type Reconciler } from "./contract.js";
import type { FailureReporter } from "./report-failure.js";

export interface SecretBinding {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; uid?: string; generation?: number; resourceVersion?: string };
  spec: {
    serviceAccountName?: string;
    host?: string;
    secretName?: string;
    refreshInterval?: string;
    items?: { path?: string; variable?: string }[];
  };
  status?: { conditions?: Condition[]; observedGeneration?: number; lastSyncTime?: string };
}

interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface SecretBindingsDeps {
  db: Queryable;
  aead: Aead;
  account: string;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  log: Logger;
  metrics: Metrics;
  events: EventRecorder;
  failures: FailureReporter;
  get: (namespace: string, name: string) => SecretBinding | undefined;
  cachedSecret: (namespace: string, name: string) => V1Secret | undefined;
}

function filesOf(binding: SecretBinding): Record<string, string> | string {
  const items = binding.spec?.items ?? [];
  if (!items.length) return "spec.items is empty";
  const files: Record<string, string> = {};
  for (const { path = "", variable } of items) {
    const problem = fileNameProblem(path);
    if (problem) return `spec.items[].path: ${problem}`;
    if (!variable) return `item '${path}' names no variable`;
    if (files[path]) return `path '${path}' appears twice`;
    files[path] = variable;
  }
  return files;
}

const notOwned = (namespace: string, name: string): string =>
  `Secret ${namespace}/${name} exists and is not owned by this SecretBinding; it is left as it is (choose another spec.secretName)`;

export class SecretBindings implements Reconciler {
  constructor(private readonly deps: SecretBindingsDeps) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace, name] = key.split("/") as [string, string];
    const binding = this.deps.get(namespace, name);
    if (!binding) {
      this.deps.failures.clear(key);
      return DONE; // its Secret is garbage-collected with it
    }
    const refreshMs =
      (binding.spec.refreshInterval && parseDuration(binding.spec.refreshInterval)) || DEFAULT_REFRESH_MS;
    const secretName = binding.spec.secretName || name;
    const files = filesOf(binding);
    if (typeof files === "string") {
      await this.deps.failures.report({
        key,
        reason: "InvalidSpec",
        message: files,
        targets: [],
        setCondition: () => this.#status(binding, "False", "InvalidSpec", files),
      });
      return DONE;
    }
    const retryMs = Math.min(refreshMs, 15_000);
    const claimant: Claimant = { kind: "SecretBinding", uid: binding.metadata.uid ?? "" };
    const cached = this.deps.cachedSecret(namespace, secretName);
    // Ownership before any work (ADR 21): the first binding to make a Secret keeps it.
    if (cached && !isOwnedBy(cached, claimant))
      return this.#fail(key, binding, "SecretNotOwned", notOwned(namespace, secretName), [], retryMs);
    const resolution = await resolveFiles(
      this.deps,
      { namespace, serviceAccount: binding.spec.serviceAccountName || "default", host: binding.spec.host },
      files,
    );
    if (!resolution.ok) {
      if (resolution.reason !== "VariableNotFound" && cached) await deleteOwnedSecret(this.deps.core, cached, claimant);
      return this.#fail(key, binding, resolution.reason, resolution.message, resolution.variables, retryMs);
    }
    const owner = {
      apiVersion: `${SECRET_BINDING.group}/${SECRET_BINDING.version}`,
      kind: "SecretBinding",
      name,
      uid: binding.metadata.uid!,
      controller: true,
      blockOwnerDeletion: true,
    };
    const desired = {
      namespace,
      name: secretName,
      data: resolution.data,
      owners: [owner],
      annotations: { "strongroom.io/identity": resolution.roleId },
    };
    const written = await writeSecret(this.deps.core, desired, claimant, cached);
    if (written.outcome === "notOwned")
      return this.#fail(key, binding, "SecretNotOwned", notOwned(namespace, secretName), resolution.variables, retryMs);
    this.deps.failures.clear(key);
    await this.#status(
      binding,
      "True",
      "Synced",
      `Secret ${secretName} holds ${Object.keys(files).length} item(s) resolved as ${resolution.roleId}`,
    );
    return { variables: resolution.variables, requeueAfterMs: refreshMs };
  }

  async #fail(
    key: string,
    binding: SecretBinding,
    reason: string,
    message: string,
    variables: string[],
    retryMs: number,
  ): Promise<ReconcileResult> {
    await this.deps.failures.report({
      key,
      reason,
      message,
      targets: [],
      setCondition: () => this.#status(binding, "False", reason, message),
    });
    return { variables, requeueAfterMs: retryMs };
  }

  async #status(binding: SecretBinding, status: Condition["status"], reason: string, message: string): Promise<void> {
    const now = new Date().toISOString();
    const previous = binding.status?.conditions?.find((c) => c.type === "Ready");
    const changed = previous?.status !== status || previous.reason !== reason;
    const ready: Condition = {
      type: "Ready",
      status,
      reason,
      message,
      lastTransitionTime: changed ? now : previous.lastTransitionTime,
      observedGeneration: binding.metadata.generation ?? 1,
    };
    const body = {
      ...binding,
      status: {
        ...binding.status,
        conditions: [ready],
        observedGeneration: binding.metadata.generation ?? 1,
        ...(status === "True" ? { lastSyncTime: now } : {}),
      },
    };
    await this.deps.custom.replaceNamespacedCustomObjectStatus({
      ...SECRET_BINDING,
      namespace: binding.metadata.namespace,
      name: binding.metadata.name,
      body,
    });
    if (changed) {
      const target = {
        kind: "SecretBinding" as const,
        apiVersion: `${SECRET_BINDING.group}/${SECRET_BINDING.version}`,
        namespace: binding.metadata.namespace,
        name: binding.metadata.name,
        uid: binding.metadata.uid,
      };
      this.deps.events.record(target, status === "True" ? "Normal" : "Warning", reason, message);
    }
  }
}
