/* global process */
// The load generator, run by bench/run.ts as its own process so that its CPU is neither the
// server's nor the orchestrator's. Input: one JSON spec in argv[2]. It warms up, prints
// `measuring` on stdout, runs the measured phase and prints one JSON line with the result.
// Paths and bodies are chosen at random per request (setupRequest), so caches see a spread
// of variables and every POST writes a new version.
import { randomBytes } from "node:crypto";
import autocannon from "autocannon";

/**
 * @typedef {{ method: "GET" | "POST", paths: string[], token?: string, bodies?: string[], randomBody?: boolean, weight?: number }} RequestKind
 * @typedef {{ url: string, connections: number, warmupSeconds: number, seconds: number, kinds: RequestKind[] }} Spec
 */
/** @type {Spec} */
const spec = JSON.parse(process.argv[2]);
const pick = (list) => Math.floor(Math.random() * list.length);

/** A per-connection cycle of requests: `weight` entries of each kind (90/10 = 9 reads, 1 write). */
function requests() {
  const out = [];
  for (const kind of spec.kinds) {
    for (let i = 0; i < (kind.weight ?? 1); i++) {
      out.push({
        method: kind.method,
        setupRequest: (req) => {
          const at = pick(kind.paths);
          const headers = { ...(kind.token ? { authorization: `Token token="${kind.token}"` } : {}) };
          const body = kind.randomBody ? `value-${randomBytes(12).toString("hex")}` : kind.bodies?.[at];
          return {
            ...req,
            method: kind.method,
            path: kind.paths[at],
            headers: { ...req.headers, ...headers },
            ...(body !== undefined ? { body } : {}),
          };
        },
      });
    }
  }
  return out;
}

const run = (seconds) =>
  autocannon({ url: spec.url, connections: spec.connections, duration: seconds, requests: requests(), timeout: 10 });

if (spec.warmupSeconds > 0) await run(spec.warmupSeconds);
process.stdout.write("measuring\n");
const r = await run(spec.seconds);
const summary = {
  requests: r.requests.total,
  seconds: r.duration,
  rps: r.requests.total / r.duration,
  p50: r.latency.p50,
  p99: r.latency.p99,
  non2xx: r.non2xx,
  errors: r.errors,
  timeouts: r.timeouts,
  statusCodes: r.statusCodeStats,
};
process.stdout.write(JSON.stringify(summary) + "\n");
