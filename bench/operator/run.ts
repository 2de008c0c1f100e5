/**
 * `npm run bench:operator`: the operator at cluster scale against the test API server over
 * TLS (issue 9's measurement). W workloads × R replicas (default 100 × 10 = 1,000 pods),
 * 4 files each, one variable shared by all; phases: cold start, shared-variable rotations,
 * restart on a synced cluster, deletion of every workload (./scenario.ts). Prints each target
 * beside the figure, the API calls by verb and resource, and TLS connections.
 *
 * Options: --workloads=N --replicas=N --rotations=N; --scale[=2000,5000,10000] repeats the
 * run at those pod counts (one rotation each, nudges not drained) and prints a linearity
 * table; --trace-connections lists every API connection with its first request;
 * --profile-rotations profiles this process over the rotations' critical path.
 * Not part of `npm test`.
 */
import { loadavg } from "node:os";
import { startTestPostgres, stopTestPostgres } from "../../test/support/postgres.js";
import { selfSignedCertificate } from "../../test/support/tls.js";
import { ConnectionTrace } from "./connection-trace.js";
import { callsOf, RotationProfiler, scenario, type ScenarioResult } from "./scenario.js";

/** `--name=value` → "value", `--name` → "", absent → undefined. */
function option(name: string): string | undefined {
  const arg = process.argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  return arg === undefined ? undefined : (arg.split("=")[1] ?? "");
}
const num = (name: string, fallback: number): number => Number(option(name) || fallback);
const WORKLOADS = num("workloads", 100);
const REPLICAS = num("replicas", 10);
const ROTATIONS = num("rotations", 5);
const scaleOption = option("scale");
const SCALE = scaleOption === undefined ? [] : (scaleOption || "2000,5000,10000").split(",").map(Number);
const trace = option("trace-connections") !== undefined ? new ConnectionTrace() : undefined;
const profiler = option("profile-rotations") !== undefined ? new RotationProfiler() : undefined;

interface Target {
  target: string;
  figure: string;
  ok: boolean;
}

function percentile(sorted: number[], p: number): number {
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);
}

function targets(r: ScenarioResult): Target[] {
  const p99 = percentile(r.arrivals, 99);
  return [
    { target: `${r.pods} cold pods served in ≤ 2 s`, figure: `${r.servedMs} ms`, ok: r.servedMs <= 2000 },
    {
      target: "≤ 3 API calls per Secret + a small constant at cold start",
      figure: `${r.coldCalls} calls for ${r.secrets} Secrets (${(r.coldCalls / r.secrets).toFixed(2)}/Secret)`,
      ok: r.coldCalls <= 3 * r.secrets + 20,
    },
    {
      target: `one variable shared by ${r.pods} pods reaches all Secrets at p99 ≤ 1 s`,
      figure: `p50 ${percentile(r.arrivals, 50)} ms, p99 ${p99} ms (${r.arrivals.length / r.secrets} rotations × ${r.secrets} Secrets; ${r.nudges} pod nudges after them)`,
      ok: p99 <= 1000,
    },
    {
      target: "restart on a synced cluster writes nothing (Secrets, pods)",
      figure: `${r.restartWrites} writes`,
      ok: r.restartWrites === 0,
    },
    {
      target: "deleted workloads never get their Secret back",
      figure: `${r.recreated} re-created`,
      ok: r.recreated === 0,
    },
    {
      target: "≤ 50 TLS connections for the whole run",
      figure: `${r.connections} connections`,
      ok: r.connections <= 50,
    },
  ];
}

/** Per size: cold start and rotation time and API calls, per pod and per Secret, to read growth off. */
function linearity(runs: ScenarioResult[]): string[] {
  const head =
    "     pods  Secrets   cold ms  ms/1k pods  cold calls  calls/pod  rotation last ms  ms/Secret  restart ms  API conns";
  const rows = runs.map((r) => {
    const last = r.arrivals.at(-1)!;
    const rotations = r.arrivals.length / r.secrets;
    return [
      String(r.pods).padStart(9),
      String(r.secrets).padStart(8),
      String(r.servedMs).padStart(9),
      ((r.servedMs / r.pods) * 1000).toFixed(0).padStart(11),
      String(r.coldCalls).padStart(11),
      (r.coldCalls / r.pods).toFixed(3).padStart(10),
      String(Math.round(last)).padStart(17),
      (last / r.secrets).toFixed(2).padStart(10),
      String(r.restartMs).padStart(11),
      String(r.connections).padStart(10),
      rotations > 1 ? `  (slowest of ${rotations} rotations)` : "",
    ].join(" ");
  });
  return [head, ...rows];
}

/** A line on stderr as each size finishes (a 10,000-pod run takes minutes). */
function progress(r: ScenarioResult): void {
  console.error(
    `bench:operator: ${r.pods} pods done: cold ${r.servedMs} ms, ${r.coldCalls} calls, slowest rotation ${Math.round(r.arrivals.at(-1)!)} ms, restart ${r.restartMs} ms, ${r.connections} connections`,
  );
}

async function main(): Promise<void> {
  await startTestPostgres();
  const tls = selfSignedCertificate();
  const runs: ScenarioResult[] = [];
  const load: string[] = [];
  try {
    load.push(loadavg()[0]!.toFixed(2));
    runs.push(
      await scenario({
        workloads: WORKLOADS,
        replicas: REPLICAS,
        rotations: ROTATIONS,
        tls,
        drainNudges: true,
        trace,
        profiler,
      }),
    );
    progress(runs[0]!);
    for (const pods of SCALE) {
      load.push(loadavg()[0]!.toFixed(2));
      runs.push(
        await scenario({
          workloads: Math.ceil(pods / REPLICAS),
          replicas: REPLICAS,
          rotations: 1,
          tls,
          drainNudges: false,
          trace,
        }),
      );
      progress(runs.at(-1)!);
    }
    load.push(loadavg()[0]!.toFixed(2));
  } finally {
    await stopTestPostgres();
  }
  const main = runs[0]!;
  console.log("\n== rotations ==");
  for (const r of runs) for (const line of r.rotationLines) console.log(line);
  if (main.profiles.length) for (const line of RotationProfiler.summarise(main.profiles)) console.log(line);
  console.log("\n== targets ==");
  const all = targets(main);
  if (runs.length > 1) {
    const base = main.servedMs / main.pods;
    const big = runs.at(-1)!;
    const ratio = big.servedMs / big.pods / base;
    all.push({
      target: `growth to ${big.pods} pods stays linear (cold ms per pod ≤ 1.5× that at ${main.pods})`,
      figure: `${(big.servedMs / big.pods).toFixed(2)} vs ${base.toFixed(2)} ms/pod (${ratio.toFixed(2)}×)`,
      ok: ratio <= 1.5,
    });
  }
  for (const r of all) console.log(`${r.ok ? "PASS" : "MISS"}  ${r.target.padEnd(72)} ${r.figure}`);
  if (runs.length > 1) {
    console.log("\n== growth (linear: the per-pod and per-Secret columns stay flat) ==");
    for (const line of linearity(runs)) console.log(line);
  }
  console.log(`\n1-minute load average of this machine at each run's start and at the end: ${load.join(", ")}`);
  console.log("\n== API calls by phase (verb resource: count) ==");
  for (const p of runs.flatMap((r) => r.phases)) {
    console.log(`-- ${p.name}: ${p.ms} ms, ${callsOf(p.calls)} calls, ${p.connections} TLS connections`);
    for (const [k, n] of [...p.calls].sort((a, b) => b[1] - a[1])) console.log(`   ${k.padEnd(36)} ${n}`);
  }
  trace?.print();
}

await main();
