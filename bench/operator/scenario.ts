/**
 * One run of issue 9's measurement at one size: W workloads × R replicas, 4 files each (3 own
 * variables + 1 shared by all), against the test API server over TLS. Phases: cold start,
 * rotations of the shared variable, restart on a synced cluster, deletion of every workload.
 * Arrivals are timed from the API server's own store events (the harness polls nothing that
 * grows with the cluster, so its cost stays out of the figures).
 */
import * as k8s from "@kubernetes/client-node";
import jsonpatch from "fast-json-patch";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parse } from "yaml";
import { pino } from "pino";
import { startServer, type RunningServer } from "../../src/cli/server.js";
import { loadConfig } from "../../src/config.js";
import { generateDataKey } from "../../src/crypto/aead.js";
import { mutatePod } from "../../src/kubernetes/webhook/mutate-pod.js";
import { Metrics } from "../../src/telemetry/metrics.js";
import { TestApiServer } from "../../test/k8s/apiserver/server.js";
import type { WatchEvent } from "../../test/k8s/apiserver/store.js";
import { BUILTIN_TYPES } from "../../test/k8s/apiserver/types.js";
import { freshDatabase } from "../../test/support/postgres.js";
import type { ConnectionTrace } from "./connection-trace.js";
import { RotationProfiler, type CpuProfile } from "./cpu-profile.js";

export interface Phase {
  name: string;
  ms: number;
  calls: Map<string, number>;
  connections: number;
}

export interface ScenarioOptions {
  workloads: number;
  replicas: number;
  rotations: number;
  tls: { cert: Buffer; keyFile: string };
  /** Wait for each rotation's pod nudges to drain (at --pod-nudge-rate, 20 s per 1,000 pods). */
  drainNudges: boolean;
  trace?: ConnectionTrace;
  profiler?: RotationProfiler;
}

export interface ScenarioResult {
  pods: number;
  secrets: number;
  phases: Phase[];
  servedMs: number;
  coldCalls: number;
  /** Per Secret and rotation: ms from the variable write until the Secret held the value (sorted). */
  arrivals: number[];
  rotationLines: string[];
  profiles: CpuProfile[];
  nudges: number;
  restartMs: number;
  restartWrites: number;
  recreated: number;
  connections: number;
}

const podType = BUILTIN_TYPES.find((t) => t.plural === "pods" && t.group === "")!;
const secretType = BUILTIN_TYPES.find((t) => t.plural === "secrets" && t.group === "")!;
const total = (calls: Map<string, number>): number => [...calls.values()].reduce((a, b) => a + b, 0);

function callKey(r: { method: string; path: string }): string {
  const path = r.path.split("?")[0]!;
  const watch = r.path.includes("watch=");
  const m = /^\/(?:api\/v1|apis\/[^/]+\/[^/]+)\/(?:namespaces\/[^/]+\/)?([a-z]+)(\/[^/]+)?(\/status)?/.exec(path);
  const resource = m ? `${m[1]}${m[3] ?? ""}` : path;
  const verb = watch ? "WATCH" : r.method === "GET" && !m?.[2] ? "LIST" : r.method;
  return `${verb} ${resource}`;
}

const tokenOf = (e: WatchEvent): string | undefined => {
  const data = (e.object as unknown as k8s.V1Secret).data;
  return data?.token === undefined ? undefined : Buffer.from(data.token, "base64").toString();
};

async function waitFor(what: string, ok: () => boolean, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export async function scenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const pods = o.workloads * o.replicas;
  const api = await new TestApiServer({ tls: { cert: o.tls.cert, key: readFileSync(o.tls.keyFile) } }).start();
  if (o.trace) o.trace.port = Number(new URL(api.url).port);
  const kc = new k8s.KubeConfig();
  kc.loadFromString(api.kubeconfig());
  await kc.makeApiClient(k8s.ApiextensionsV1Api).createCustomResourceDefinition({
    body: parse(readFileSync("crds/strongroom.io_secretbindings.yaml", "utf8")) as k8s.V1CustomResourceDefinition,
  });
  const databaseUrl = await freshDatabase();
  const dataKey = generateDataKey();
  const log = pino({ level: process.env.LOG_LEVEL ?? "silent" });
  const start = async (): Promise<RunningServer> => {
    const config = loadConfig(
      {
        port: "0",
        host: "127.0.0.1",
        account: "bench",
        "database-url": databaseUrl,
        controller: true,
        namespace: "strongroom",
      },
      { STRONGROOM_DATA_KEY: dataKey },
    );
    return startServer(config, log, { metrics: new Metrics(false), kubeConfig: kc });
  };
  let server = await start();
  const token = await (
    await fetch(`${server.url}/authn/bench/admin/authenticate`, {
      method: "POST",
      body: server.adminApiKey!,
      headers: { "Accept-Encoding": "base64" },
    })
  ).text();
  const call = (method: string, path: string, body: string) =>
    fetch(`${server.url}${path}`, { method, body, headers: { Authorization: `Token token="${token}"` } });
  // Policy: one host per workload (its service account), 3 own variables + 1 shared.
  const lines = ["- !variable shared/token"];
  for (let w = 0; w < o.workloads; w++) {
    lines.push(`- !host kubernetes/apps/sa-${w}`, `- !variable w${w}/a`, `- !variable w${w}/b`, `- !variable w${w}/c`);
    lines.push(
      `- !permit { role: !host kubernetes/apps/sa-${w}, privilege: execute, resources: [ !variable w${w}/a, !variable w${w}/b, !variable w${w}/c, !variable shared/token ] }`,
    );
  }
  const loaded = await call("POST", "/policies/bench/policy/root", lines.join("\n"));
  if (loaded.status !== 201) throw new Error(`policy load: ${loaded.status} ${await loaded.text()}`);
  await call("POST", "/secrets/bench/variable/shared%2Ftoken", "v0");
  for (let w = 0; w < o.workloads; w++)
    for (const v of ["a", "b", "c"]) await call("POST", `/secrets/bench/variable/w${w}%2F${v}`, `${w}-${v}`);
  await server.close();

  // The cluster as the controller finds it: pods already admitted through the webhook's mutation.
  const secretNames = new Set<string>();
  for (let w = 0; w < o.workloads; w++) {
    for (let r = 0; r < o.replicas; r++) {
      const pod: k8s.V1Pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: `w${w}-${r}`,
          namespace: "apps",
          annotations: {
            "strongroom.io/inject": "true",
            "strongroom.io/secret.a": `w${w}/a`,
            "strongroom.io/secret.b": `w${w}/b`,
            "strongroom.io/secret.c": `w${w}/c`,
            "strongroom.io/secret.token": "shared/token",
          },
          ownerReferences: [
            { apiVersion: "apps/v1", kind: "ReplicaSet", name: `w${w}`, uid: `rs-${w}`, controller: true },
          ],
        },
        spec: { serviceAccountName: `sa-${w}`, containers: [{ name: "app", image: "app" }] },
      };
      const m = mutatePod(pod, "apps");
      if (m.kind !== "patch") throw new Error("not injected");
      api.store.create(
        podType,
        "apps",
        jsonpatch.applyPatch(pod, m.patch as jsonpatch.Operation[]).newDocument as never,
      );
      secretNames.add(m.secretName!);
    }
  }
  const phases: Phase[] = [];
  const phase = async (name: string, body: () => Promise<void>): Promise<Phase> => {
    const from = api.requests.length;
    const conns = api.connections;
    o.trace?.phase(`${name} (${pods} pods)`);
    const t0 = performance.now();
    await body();
    const calls = new Map<string, number>();
    for (const r of api.requests.slice(from)) calls.set(callKey(r), (calls.get(callKey(r)) ?? 0) + 1);
    const p = {
      name: `${name} (${pods} pods)`,
      ms: Math.round(performance.now() - t0),
      calls,
      connections: api.connections - conns,
    };
    phases.push(p);
    return p;
  };
  /** Resolves the ms (from t0) at which each managed Secret first holds `value` in its token file. */
  const arrivalsOf = (value: string, t0: number) => {
    const pending = new Set(secretNames);
    const times: number[] = [];
    const off = api.store.subscribe((e) => {
      if (e.object.kind === "Secret") {
        const name = e.object.metadata.name!;
        if (e.type !== "DELETED" && pending.has(name) && tokenOf(e) === value) {
          pending.delete(name);
          times.push(performance.now() - t0);
        }
      }
    });
    return { times, done: () => pending.size === 0, off };
  };

  // 1. Cold start: from process start to every Secret written.
  let servedMs = 0;
  const cold = await phase("cold start", async () => {
    const t0 = performance.now();
    const served = arrivalsOf("v0", t0);
    server = await start();
    await waitFor("all Secrets", served.done);
    served.off();
    servedMs = Math.round(performance.now() - t0);
    await server.controller!.idle();
  });

  // 2. Rotations of the shared variable: time until each Secret holds the new value.
  const arrivals: number[] = [];
  const rotationLines: string[] = [];
  const profiles: CpuProfile[] = [];
  await phase(`${o.rotations} rotation${o.rotations === 1 ? "" : "s"} of one shared variable`, async () => {
    for (let i = 1; i <= o.rotations; i++) {
      const value = `v${i}`;
      await o.profiler?.resume();
      const cpu0 = process.cpuUsage();
      const elu0 = performance.eventLoopUtilization();
      const t0 = performance.now();
      const rotation = arrivalsOf(value, t0);
      await call("POST", "/secrets/bench/variable/shared%2Ftoken", value);
      const stored = performance.now() - t0;
      await waitFor("rotation", rotation.done);
      rotation.off();
      const profile = await o.profiler?.pause();
      if (profile) profiles.push(profile);
      const cpu = process.cpuUsage(cpu0);
      const elu = performance.eventLoopUtilization(elu0);
      const t = rotation.times;
      arrivals.push(...t);
      rotationLines.push(
        `rotation ${i} (${pods} pods): stored after ${Math.round(stored)} ms; Secrets first ${Math.round(t[0]!)} ms, median ${Math.round(t[t.length >> 1]!)} ms, last ${Math.round(t.at(-1)!)} ms; ` +
          `this process used ${Math.round((cpu.user + cpu.system) / 1000)} ms CPU, event loop busy ${Math.round(elu.utilization * 100)}%`,
      );
      if (o.drainNudges) await server.controller!.idle();
    }
  });
  const nudges = server.controller!.stats().nudges;

  // 3. Restart on a synced cluster: nothing to write.
  await server.close();
  const restart = await phase("restart on a synced cluster", async () => {
    server = await start();
    await waitFor("leadership", () => server.controller!.leading);
    await server.controller!.idle();
    await new Promise((r) => setTimeout(r, 300));
    await server.controller!.idle();
  });
  const restartWrites = [...restart.calls]
    .filter(([k]) => /^(POST|PUT|PATCH|DELETE) (secrets|pods)/.test(k))
    .reduce((a, [, n]) => a + n, 0);

  // 4. Delete every workload: no Secret comes back.
  let recreated = 0;
  await phase("deletion of every workload", async () => {
    const off = api.store.subscribe((e) => {
      if (e.type === "ADDED" && secretNames.has(e.object.metadata.name!)) recreated++;
    });
    // As the ReplicaSet controller would: straight in the store (the harness opens no connections).
    for (const pod of api.store.list(podType, "apps")) api.store.delete(podType, "apps", pod.metadata.name!, api.types);
    await waitFor("Secrets deleted", () => api.store.list(secretType, "apps").length === 0);
    await new Promise((r) => setTimeout(r, 500));
    await server.controller!.idle();
    off();
  });
  await server.close();
  await api.stop();
  arrivals.sort((a, b) => a - b);
  return {
    pods,
    secrets: secretNames.size,
    phases,
    servedMs,
    coldCalls: total(cold.calls),
    arrivals,
    rotationLines,
    profiles,
    nudges,
    restartMs: restart.ms,
    restartWrites,
    recreated,
    connections: phases.reduce((a, p) => a + p.connections, 0),
  };
}

export const callsOf = total;
export { RotationProfiler };
