/**
 * Read-path benchmark: real server, real embedded Postgres, real HTTP on loopback.
 * Prints a table of medians and throughput. Run: npm run bench
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { startServer } from "../src/cli/server.js";
import { loadConfig } from "../src/config.js";
import { generateDataKey } from "../src/crypto/aead.js";
import { startEmbeddedPostgres } from "../src/storage/embedded.js";
import { Metrics } from "../src/telemetry/metrics.js";

const dir = mkdtempSync(join(tmpdir(), "strongroom-bench-"));
const pg = await startEmbeddedPostgres(dir, () => undefined);
const config = loadConfig({ port: "0", host: "127.0.0.1", account: "bench", "database-url": pg.url }, { STRONGROOM_DATA_KEY: generateDataKey() });
const server = await startServer(config, pino({ level: "silent" }), { metrics: new Metrics(false) });
const url = server.url;

const post = (path: string, body: string, token?: string) => fetch(url + path, { method: "POST", body, headers: token ? { Authorization: `Token token="${token}"` } : {} });
const token = Buffer.from(await (await post("/authn/bench/admin/authenticate", server.adminApiKey!)).text()).toString("base64");
const policy = Array.from({ length: 100 }, (_, i) => `- !variable v${i}`).join("\n");
await post("/policies/bench/policy/root", policy, token);
for (let i = 0; i < 100; i++) await post(`/secrets/bench/variable/v${i}`, `value-${i}-${"x".repeat(40)}`, token);

async function measure(name: string, total: number, concurrency: number, request: () => Promise<Response>): Promise<string[]> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) {
        const t = performance.now();
        const res = await request();
        await res.arrayBuffer();
        if (res.status !== 200 && res.status !== 201) throw new Error(`${name}: HTTP ${res.status}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number): string => latencies[Math.floor(q * (latencies.length - 1))]!.toFixed(2);
  return [name, String(concurrency), at(0.5), at(0.99), (total / seconds).toFixed(0)];
}

const auth = { Authorization: `Token token="${token}"` };
const batch10 = `/secrets?variable_ids=${Array.from({ length: 10 }, (_, i) => `bench:variable:v${i}`).join(",")}`;
const batch100 = `/secrets?variable_ids=${Array.from({ length: 100 }, (_, i) => `bench:variable:v${i}`).join(",")}`;
const rows = [
  await measure("GET /health (HTTP baseline)", 6000, 16, () => fetch(`${url}/health`)),
  await measure("GET one secret", 3000, 1, () => fetch(`${url}/secrets/bench/variable/v1`, { headers: auth })),
  await measure("GET one secret", 6000, 16, () => fetch(`${url}/secrets/bench/variable/v1`, { headers: auth })),
  await measure("batch of 10", 4000, 16, () => fetch(url + batch10, { headers: auth })),
  await measure("batch of 100", 1000, 16, () => fetch(url + batch100, { headers: auth })),
  await measure("POST secret (new version)", 1000, 8, () => post("/secrets/bench/variable/v2", `v-${Math.random()}`, token)),
  await measure("authenticate", 1000, 8, () => post("/authn/bench/admin/authenticate", server.adminApiKey!)),
];

const header = ["operation", "conc.", "p50 ms", "p99 ms", "req/s"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));

await server.close();
await pg.stop();
rmSync(dir, { recursive: true, force: true });
