/**
 * `npm run soak`: the long fault scenarios, under a read/write load, on loopback only.
 * A real Postgres (embedded, in a temp dir) sits behind a fault proxy; the real
 * `strongroom server` runs as a child process. During the run we inject, in turn: a network
 * partition (packets dropped), `kill -9` of the server mid-writes and a restart, a database
 * restart, and a database host that refuses connections. At the end: one summary line per
 * measure, and exit 1 if an acknowledged write was lost or a 5xx came outside a fault.
 * SOAK_SECONDS sets the load's duration (default 120); the whole run takes ~30 s more.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDataKey } from "../../src/crypto/aead.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../../src/storage/embedded.js";
import { FaultProxy } from "../../test/support/fault-proxy.js";
import { fuzzAtScale } from "./fuzz.js";
import { Load, verify, VERSIONS_PER_VARIABLE, type Target } from "./load.js";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 120);
const WORKERS = Number(process.env.SOAK_WORKERS ?? 8);
/** Hostile requests sent after the faults (test/support/fuzz-gen.ts); FUZZ_SEED reproduces a run. */
const FUZZ_CASES = Number(process.env.SOAK_FUZZ_CASES ?? 20_000);
const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 7);
/** After a fault heals: pooled connections are re-made, timed-out queries run out. */
const GRACE_MS = 10_000;
const CLI = join(import.meta.dirname, "../../dist/cli/main.js");
const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  await new Promise((ok) => server.close(ok));
  return port;
}

const portOf = (url: string): number => Number(new URL(url).port);

class Soak {
  readonly dir = mkdtempSync(join(tmpdir(), "strongroom-soak-"));
  readonly dataKey = generateDataKey();
  readonly faults: string[] = [];
  peakRssBytes = 0;
  #db!: EmbeddedDatabase;
  #proxy!: FaultProxy;
  #server: ChildProcess | undefined;
  #port = 0;
  #faultUntil = 0;
  #inFault = false;

  inFault = (): boolean => this.#inFault || Date.now() < this.#faultUntil;

  async start(): Promise<{ adminKey: string; url: string }> {
    this.#db = await startEmbeddedPostgres(this.dir, () => undefined);
    this.#proxy = await FaultProxy.forUrl(this.#db.url).start();
    this.#port = await freePort();
    const output = await this.startServer();
    const adminKey = /API key for admin: (\S+)/.exec(output)?.[1];
    if (!adminKey) throw new Error(`no admin key printed: ${output}`);
    const rss = setInterval(() => this.#sampleRss(), 500);
    rss.unref();
    return { adminKey, url: `http://127.0.0.1:${this.#port}` };
  }

  /** Start `strongroom server`; resolves with its stdout once /health answers. */
  async startServer(): Promise<string> {
    const child = spawn(
      process.execPath,
      [
        CLI,
        "server",
        "--port",
        String(this.#port),
        "--host",
        "127.0.0.1",
        "--account",
        "soak",
        "--database-url",
        this.#proxy.url(this.#db.url),
        "--db-connect-timeout",
        "1000",
        "--db-query-timeout",
        "2000",
        "--token-ttl",
        "3600",
        "--log-level",
        "warn",
      ],
      {
        env: { ...process.env, STRONGROOM_DATA_KEY: this.dataKey, DATABASE_URL: "" },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    this.#server = child;
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    for (let i = 0; i < 300; i++) {
      if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${this.#port}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return output;
      await sleep(100);
    }
    throw new Error("server did not start within 30 s");
  }

  async #fault(name: string, inject: () => Promise<void>): Promise<void> {
    this.#inFault = true;
    const started = Date.now();
    await inject();
    this.#inFault = false;
    this.#faultUntil = Date.now() + GRACE_MS;
    this.faults.push(`${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }

  partition = (ms: number): Promise<void> =>
    this.#fault("network partition, packets dropped", async () => {
      this.#proxy.drop();
      await sleep(ms);
      await this.#proxy.forward();
    });

  killServer = (): Promise<void> =>
    this.#fault("kill -9 of the server mid-writes, then restart", async () => {
      const child = this.#server!;
      const exited = new Promise((ok) => child.once("exit", ok));
      child.kill("SIGKILL");
      await exited;
      await this.startServer();
    });

  restartDatabase = (): Promise<void> =>
    this.#fault("database restart", async () => {
      await this.#db.stop();
      this.#db = await startEmbeddedPostgres(this.dir, () => undefined);
      this.#proxy.retarget({ host: "127.0.0.1", port: portOf(this.#db.url) });
    });

  databaseDown = (ms: number): Promise<void> =>
    this.#fault("database host refusing connections", async () => {
      await this.#proxy.refuse();
      await sleep(ms);
      await this.#proxy.forward();
    });

  #sampleRss(): void {
    const pid = this.#server?.pid;
    if (!pid) return;
    try {
      const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
      this.peakRssBytes = Math.max(this.peakRssBytes, kb * 1024);
    } catch {
      // between a kill and a restart
    }
  }

  async stop(): Promise<void> {
    const child = this.#server;
    if (child && child.exitCode === null) {
      const exited = new Promise((ok) => child.once("exit", ok));
      child.kill("SIGTERM");
      await exited;
    }
    await this.#proxy.stop();
    await this.#db.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const soak = new Soak();
  const { adminKey, url } = await soak.start();
  const auth = await fetch(`${url}/authn/soak/admin/authenticate`, {
    method: "POST",
    body: adminKey,
    headers: { "Accept-Encoding": "base64" },
  });
  const target: Target = { url, account: "soak", token: await auth.text() };
  const variables = Array.from({ length: Math.max(200, SECONDS * 20) }, (_, i) => `soak/v${i}`);
  const policy = await fetch(`${url}/policies/soak/policy/root`, {
    method: "POST",
    headers: { Authorization: `Token token="${target.token}"` },
    body: variables.map((v) => `- !variable ${v}`).join("\n"),
  });
  if (policy.status !== 201) throw new Error(`policy load: ${policy.status}`);

  const load = new Load(target, variables, soak.inFault);
  const started = Date.now();
  const running = load.run(WORKERS);
  const at = (fraction: number): Promise<void> => sleep(Math.max(0, started + fraction * SECONDS * 1000 - Date.now()));
  const faultMs = Math.min(8_000, SECONDS * 60);
  await at(0.15);
  await soak.partition(faultMs);
  await at(0.35);
  await soak.killServer();
  await at(0.55);
  await soak.restartDatabase();
  await at(0.75);
  await soak.databaseDown(faultMs);
  await at(1);
  load.stop();
  await running;
  const seconds = (Date.now() - started) / 1000;

  const result = await verify(load, target);
  const fuzz = await fuzzAtScale(target, FUZZ_CASES, FUZZ_SEED);
  await soak.stop();
  const c = load.counters;
  const statuses = [...c.byStatus.entries()]
    .sort(([a], [b]) => a - b)
    .map(([s, n]) => `${s}:${n}`)
    .join(" ");
  const failed =
    result.lost.length > 0 || c.unexpected.length > 0 || fuzz.serverErrors.length > 0 || fuzz.hangs.length > 0;
  const lines = [
    `soak ${failed ? "FAILED" : "passed"}: ${seconds.toFixed(0)} s of load, ${WORKERS} workers, loopback only`,
    `  faults injected:      ${soak.faults.length}: ${soak.faults.join("; ")}`,
    `  requests:             ${c.requests} sent, ${c.answered} answered (${(c.answered / seconds).toFixed(0)}/s); by status ${statuses}`,
    `  writes:               ${c.writesAttempted} attempted, ${result.acknowledged} acknowledged, ${result.found} found afterwards, ${result.lost.length} lost (≤ ${VERSIONS_PER_VARIABLE} per variable)`,
    `  5xx:                  ${c.unexpected.length} unexpected; ${c.unavailableDuringFaults} 503s or refused connections during faults`,
    `  fuzz (seed ${FUZZ_SEED}):        ${fuzz.cases} hostile requests, ${fuzz.answered} answered, ${fuzz.serverErrors.length} 5xx, ${fuzz.hangs.length} hangs`,
    `  server peak RSS:      ${(soak.peakRssBytes / 1024 / 1024).toFixed(0)} MiB`,
  ];
  if (fuzz.serverErrors.length || fuzz.hangs.length)
    lines.push(`  fuzz failures (first 5): ${[...fuzz.serverErrors, ...fuzz.hangs].slice(0, 5).join("; ")}`);
  if (result.lost.length) lines.push(`  lost (first 5):       ${result.lost.slice(0, 5).join(", ")}`);
  if (c.unexpected.length) lines.push(`  unexpected (first 5): ${c.unexpected.slice(0, 5).join("; ")}`);
  process.stdout.write(lines.join("\n") + "\n");
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
