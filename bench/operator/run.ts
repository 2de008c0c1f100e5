/**
 * `npm run bench:operator`: the operator at cluster scale against the test API server over
 * TLS (issue 9's measurement). W workloads × R replicas (default 100 × 10 = 1,000 pods),
 * 4 files each, one variable shared by all; phases: cold start, shared-variable rotation,
 * restart on a synced cluster, deletion of every workload. Prints each target beside the
 * figure, the API calls by verb and resource, and TLS connections. `--scale` repeats the
 * cold start at 10× to show growth. Not part of `npm test`.
 */
import * as k8s from "@kubernetes/client-node";
import jsonpatch from "fast-json-patch";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { pino } from "pino";
import { startServer, type RunningServer } from "../../src/cli/server.js";
import { loadConfig } from "../../src/config.js";
import { generateDataKey } from "../../src/crypto/aead.js";
import { mutatePod } from "../../src/kubernetes/webhook/mutate-pod.js";
import { Metrics } from "../../src/telemetry/metrics.js";
import { TestApiServer } from "../../test/k8s/apiserver/server.js";
import { BUILTIN_TYPES } from "../../test/k8s/apiserver/types.js";
import { freshDatabase, startTestPostgres, stopTestPostgres } from "../../test/support/postgres.js";
import { selfSignedCertificate } from "../../test/support/tls.js";

const arg = (name: string, fallback: number): number => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const WORKLOADS = arg("workloads", 100);
const REPLICAS = arg("replicas", 10);
const ROTATIONS = arg("rotations", 5);
const SCALE = process.argv.includes("--scale");

interface Phase {
  name: string;
  ms: number;
  calls: Map<string, number>;
  connections: number;
}

const podType = BUILTIN_TYPES.find((t) => t.plural === "pods" && t.group === "")!;

function callKey(r: { method: string; path: string }): string {
  const path = r.path.split("?")[0]!;
  const watch = r.path.includes("watch=");
  const m = /^\/(?:api\/v1|apis\/[^/]+\/[^/]+)\/(?:namespaces\/[^/]+\/)?([a-z]+)(\/[^/]+)?(\/status)?/.exec(path);
  const resource = m ? `${m[1]}${m[3] ?? ""}` : path;
  const verb = watch ? "WATCH" : r.method === "GET" && !m?.[2] ? "LIST" : r.method;
  return `${verb} ${resource}`;
}

async function main(): Promise<void> {
  await startTestPostgres();
  const tls = selfSignedCertificate();
  const results: { target: string; figure: string; ok: boolean }[] = [];
  const phases: Phase[] = [];
  try {
    const run = await scenario(WORKLOADS, REPLICAS, tls, phases, results);
    if (SCALE) {
      const big = await scenario(WORKLOADS * 10, REPLICAS, tls, [], [], true);
      results.push({ target: `growth to ${WORKLOADS * REPLICAS * 10} pods stays linear (cold start ≤ 10× + 50%)`, figure: `${big.coldMs} ms vs ${run.coldMs} ms (${(big.coldMs / run.coldMs).toFixed(1)}×)`, ok: big.coldMs <= run.coldMs * 15 });
    }
  } finally {
    await stopTestPostgres();
  }
  console.log("\n== targets ==");
  for (const r of results) console.log(`${r.ok ? "PASS" : "MISS"}  ${r.target.padEnd(72)} ${r.figure}`);
  console.log("\n== API calls by phase (verb resource: count) ==");
  for (const p of phases) {
    console.log(`-- ${p.name}: ${p.ms} ms, ${[...p.calls.values()].reduce((a, b) => a + b, 0)} calls, ${p.connections} TLS connections`);
    for (const [k, n] of [...p.calls].sort((a, b) => b[1] - a[1])) console.log(`   ${k.padEnd(36)} ${n}`);
  }
}

async function scenario(workloads: number, replicas: number, tls: { cert: Buffer; certFile: string; keyFile: string }, phases: Phase[], results: { target: string; figure: string; ok: boolean }[], quiet = false) {
  const pods = workloads * replicas;
  const api = await new TestApiServer({ tls: { cert: tls.cert, key: readFileSync(tls.keyFile) } }).start();
  const kc = new k8s.KubeConfig();
  kc.loadFromString(api.kubeconfig());
  await kc.makeApiClient(k8s.ApiextensionsV1Api).createCustomResourceDefinition({ body: parse(readFileSync("crds/strongroom.io_secretbindings.yaml", "utf8")) as k8s.V1CustomResourceDefinition });
  const databaseUrl = await freshDatabase();
  const dataKey = generateDataKey();
  const log = pino({ level: process.env.LOG_LEVEL ?? "silent" });
  const start = async (): Promise<RunningServer> => {
    const config = loadConfig({ port: "0", host: "127.0.0.1", account: "bench", "database-url": databaseUrl, controller: true, namespace: "strongroom" }, { STRONGROOM_DATA_KEY: dataKey });
    return startServer(config, log, { metrics: new Metrics(false), kubeConfig: kc });
  };
  let server = await start();
  const adminKey = server.adminApiKey!;
  const token = await (await fetch(`${server.url}/authn/bench/admin/authenticate`, { method: "POST", body: adminKey, headers: { "Accept-Encoding": "base64" } })).text();
  const call = (method: string, path: string, body: string) => fetch(`${server.url}${path}`, { method, body, headers: { Authorization: `Token token="${token}"` } });
  // Policy: one host per workload (its service account), 3 own variables + 1 shared.
  const lines = ["- !variable shared/token"];
  for (let w = 0; w < workloads; w++) {
    lines.push(`- !host kubernetes/apps/sa-${w}`, `- !variable w${w}/a`, `- !variable w${w}/b`, `- !variable w${w}/c`);
    lines.push(`- !permit { role: !host kubernetes/apps/sa-${w}, privilege: execute, resources: [ !variable w${w}/a, !variable w${w}/b, !variable w${w}/c, !variable shared/token ] }`);
  }
  const loaded = await call("POST", "/policies/bench/policy/root", lines.join("\n"));
  if (loaded.status !== 201) throw new Error(`policy load: ${loaded.status} ${await loaded.text()}`);
  await call("POST", "/secrets/bench/variable/shared%2Ftoken", "v0");
  for (let w = 0; w < workloads; w++) for (const v of ["a", "b", "c"]) await call("POST", `/secrets/bench/variable/w${w}%2F${v}`, `${w}-${v}`);
  await server.close();

  // The cluster as the controller finds it: pods already admitted through the webhook's mutation.
  const secretNames = new Set<string>();
  for (let w = 0; w < workloads; w++) {
    for (let r = 0; r < replicas; r++) {
      const pod: k8s.V1Pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: `w${w}-${r}`,
          namespace: "apps",
          annotations: { "strongroom.io/inject": "true", "strongroom.io/secret.a": `w${w}/a`, "strongroom.io/secret.b": `w${w}/b`, "strongroom.io/secret.c": `w${w}/c`, "strongroom.io/secret.token": "shared/token" },
          ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: `w${w}`, uid: `rs-${w}`, controller: true }],
        },
        spec: { serviceAccountName: `sa-${w}`, containers: [{ name: "app", image: "app" }] },
      };
      const m = mutatePod(pod, "apps");
      if (m.kind !== "patch") throw new Error("not injected");
      api.store.create(podType, "apps", jsonpatch.applyPatch(pod, m.patch as jsonpatch.Operation[]).newDocument as never);
      secretNames.add(m.secretName!);
    }
  }
  const secretType = BUILTIN_TYPES.find((t) => t.plural === "secrets" && t.group === "")!;
  const secretValue = (name: string, file: string): string | undefined => {
    try {
      const s = api.store.get(secretType, "apps", name) as unknown as k8s.V1Secret;
      return Buffer.from(s.data?.[file] ?? "", "base64").toString();
    } catch {
      return undefined;
    }
  };
  const phase = async (name: string, body: () => Promise<void>): Promise<Phase> => {
    const from = api.requests.length;
    const conns = api.connections;
    const t0 = performance.now();
    await body();
    const ms = Math.round(performance.now() - t0);
    const calls = new Map<string, number>();
    for (const r of api.requests.slice(from)) calls.set(callKey(r), (calls.get(callKey(r)) ?? 0) + 1);
    const p = { name: `${name} (${pods} pods)`, ms, calls, connections: api.connections - conns };
    phases.push(p);
    return p;
  };
  const allSecretsHold = (file: string, value: string) => [...secretNames].every((n) => secretValue(n, file) === value);
  const waitFor = async (what: string, ok: () => boolean, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };

  // 1. Cold start: from process start to every Secret written.
  let servedMs = 0;
  const cold = await phase("cold start", async () => {
    const t0 = performance.now();
    server = await start();
    await waitFor("all Secrets", () => allSecretsHold("token", "v0"));
    servedMs = Math.round(performance.now() - t0);
    await server.controller!.idle();
  });
  const coldCalls = [...cold.calls.values()].reduce((a, b) => a + b, 0);
  if (!quiet) {
    results.push({ target: `${pods} cold pods served in ≤ 2 s`, figure: `${servedMs} ms`, ok: servedMs <= 2000 });
    results.push({ target: "≤ 3 API calls per Secret + a small constant at cold start", figure: `${coldCalls} calls for ${secretNames.size} Secrets (${(coldCalls / secretNames.size).toFixed(2)}/Secret)`, ok: coldCalls <= 3 * secretNames.size + 20 });
  }

  // 2. Rotation of the shared variable: time until each Secret holds the new value.
  const perSecret: number[] = [];
  let nudges = 0;
  await phase(`${ROTATIONS} rotations of one shared variable`, async () => {
    for (let i = 1; i <= ROTATIONS; i++) {
      const value = `v${i}`;
      const pending = new Set(secretNames);
      const t0 = performance.now();
      const off = api.store.subscribe((e) => {
        const name = e.object.metadata.name!;
        if (e.type === "MODIFIED" && pending.has(name) && secretValue(name, "token") === value) {
          pending.delete(name);
          perSecret.push(performance.now() - t0);
        }
      });
      await fetch(`${server.url}/secrets/bench/variable/shared%2Ftoken`, { method: "POST", body: value, headers: { Authorization: `Token token="${token}"` } });
      await waitFor("rotation", () => pending.size === 0);
      off();
      await server.controller!.idle();
    }
    nudges = server.controller!.stats().nudges;
  });
  perSecret.sort((a, b) => a - b);
  const pct = (p: number) => Math.round(perSecret[Math.min(perSecret.length - 1, Math.floor((p / 100) * perSecret.length))]!);
  if (!quiet) {
    results.push({ target: `one variable shared by ${pods} pods reaches all Secrets at p99 ≤ 1 s`, figure: `p50 ${pct(50)} ms, p99 ${pct(99)} ms (${ROTATIONS} rotations × ${secretNames.size} Secrets; ${nudges} pod nudges after them)`, ok: pct(99) <= 1000 });
  }

  // 3. Restart on a synced cluster: nothing to write.
  await server.close();
  const restart = await phase("restart on a synced cluster", async () => {
    server = await start();
    await waitFor("leadership", () => server.controller!.leading);
    await server.controller!.idle();
    await new Promise((r) => setTimeout(r, 300));
    await server.controller!.idle();
  });
  const writes = [...restart.calls].filter(([k]) => /^(POST|PUT|PATCH|DELETE) (secrets|pods)/.test(k)).reduce((a, [, n]) => a + n, 0);
  if (!quiet) results.push({ target: "restart on a synced cluster writes nothing (Secrets, pods)", figure: `${writes} writes`, ok: writes === 0 });

  // 4. Delete every workload: no Secret comes back.
  let recreated = 0;
  await phase("deletion of every workload", async () => {
    const off = api.store.subscribe((e) => {
      if (e.type === "ADDED" && secretNames.has(e.object.metadata.name!)) recreated++;
    });
    // As the ReplicaSet controller would: straight in the store (the harness opens no connections).
    for (const pod of api.store.list(podType, "apps")) api.store.delete(podType, "apps", pod.metadata.name!, api.types);
    await new Promise((r) => setTimeout(r, 500));
    await server.controller!.idle();
    off();
  });
  if (!quiet) results.push({ target: "deleted workloads never get their Secret back", figure: `${recreated} re-created`, ok: recreated === 0 });
  const total = phases.filter((p) => p.name.endsWith(`(${pods} pods)`)).reduce((a, p) => a + p.connections, 0);
  if (!quiet) results.push({ target: "≤ 50 TLS connections for the whole run", figure: `${total} connections`, ok: total <= 50 });
  await server.close();
  await api.stop();
  return { coldMs: servedMs };
}

await main();
