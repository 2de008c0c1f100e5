/**
 * The processes of a bench run: the server (built `dist/`, its log to a file), the floor
 * and the load generator, each its own child process so that each one's CPU and memory are
 * its own.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { sampleUsage, type Usage } from "./proc-stats.js";

export interface Child {
  pid: number;
  url: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => ok(port));
    });
  });
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((ok) => {
      if (child.exitCode !== null) return ok();
      child.once("exit", () => ok());
      child.kill("SIGTERM");
    });
}

async function waitFor<T>(what: string, seconds: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** BENCH_PROFILE=DIR: the server and the floor write a V8 CPU profile there when it stops (open it in Chrome DevTools). */
/** BENCH_PROFILE=<dir>: the server (and floor) write a CPU profile there on exit. */
export const profileFlags = (): string[] =>
  process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
/** The floor has no SIGTERM handler; a profile is only written on a clean exit. */
const exitOnSigterm = (): string[] =>
  process.env.BENCH_PROFILE ? ["--import", 'data:text/javascript,process.on("SIGTERM",()=>process.exit(0))'] : [];

/**
 * `strongroom server` at log level info, stdout and stderr to `logFile` (request log and
 * audit on, as in production, where a collector reads them). Returns the admin API key.
 */
export async function startStrongroom(opts: {
  databaseUrl: string;
  dataKey: string;
  account: string;
  logFile: string;
}): Promise<Child & { adminApiKey: string }> {
  const port = await freePort();
  const log = openSync(opts.logFile, "a");
  const child = spawn(
    process.execPath,
    [
      ...profileFlags(),
      join("dist", "cli", "main.js"),
      "server",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--account",
      opts.account,
      "--log-level",
      process.env.BENCH_LOG_LEVEL ?? "info",
    ],
    {
      stdio: ["ignore", log, log],
      env: { ...process.env, DATABASE_URL: opts.databaseUrl, STRONGROOM_DATA_KEY: opts.dataKey },
    },
  );
  // main.ts prints the key once the server listens, whatever the log level.
  const adminApiKey = await waitFor("the server to listen", 60, () => {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}; see ${opts.logFile}`);
    return /API key for admin: (\S+)/.exec(readFileSync(opts.logFile, "utf8"))?.[1];
  });
  return { pid: child.pid!, url: `http://127.0.0.1:${port}`, adminApiKey, stop: stopper(child) };
}

/** The floor (bench/floor/floor-server.mjs) on the same Postgres; returns its token. */
export async function startFloor(databaseUrl: string, variables: number): Promise<Child & { token: string }> {
  const port = await freePort();
  const u = new URL(databaseUrl);
  const child = spawn(
    process.execPath,
    [...profileFlags(), ...exitOnSigterm(), join("bench", "floor", "floor-server.mjs")],
    {
      stdio: ["ignore", "pipe", "inherit"],
      env: {
        ...process.env,
        PGHOST: u.hostname,
        PGPORT: u.port,
        PGUSER: decodeURIComponent(u.username),
        PGPASSWORD: decodeURIComponent(u.password),
        PGDATABASE: u.pathname.slice(1),
        PORT: String(port),
        N: String(variables),
      },
    },
  );
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const token = await waitFor("the floor to be ready", 120, () => {
    if (child.exitCode !== null) throw new Error(`floor exited with ${child.exitCode}`);
    return /ready token=(\S+)/.exec(out)?.[1];
  });
  return { pid: child.pid!, url: `http://127.0.0.1:${port}`, token, stop: stopper(child) };
}

export interface LoadSpec {
  url: string;
  connections: number;
  warmupSeconds: number;
  seconds: number;
  kinds: {
    method: "GET" | "POST";
    paths: string[];
    token?: string;
    bodies?: string[];
    randomBody?: boolean;
    weight?: number;
  }[];
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, { count: number }>;
}

/** Runs the load generator against `spec.url`, sampling `watched()` (CPU, RSS) while it measures. */
export async function runLoad(
  spec: LoadSpec,
  watched: Record<string, () => number[]>,
): Promise<{ load: LoadResult; usage: Record<string, Usage> }> {
  const child = spawn(process.execPath, [join("bench", "load-generator.mjs"), JSON.stringify(spec)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let samplers: Record<string, { stop(): Usage }> | undefined;
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    if (!samplers && out.includes("measuring\n"))
      samplers = Object.fromEntries(Object.entries(watched).map(([name, pids]) => [name, sampleUsage(pids)]));
  });
  const code = await new Promise<number | null>((ok) => child.once("exit", ok));
  const usage = Object.fromEntries(Object.entries(samplers ?? {}).map(([name, s]) => [name, s.stop()]));
  const last = out.trim().split("\n").pop()!;
  if (code !== 0) throw new Error(`load generator exited with ${code}`);
  return { load: JSON.parse(last) as LoadResult, usage };
}
