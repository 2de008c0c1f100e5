/**
 * Storage plus its data key, as every storage-touching command needs them. One-shot commands
 * (account create|reset-admin, data-key rotate) attach to the embedded PostgreSQL of a server
 * running on the same data dir rather than start a second postmaster on the same files.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { Aead } from "../crypto/aead.js";
import { resolveDataKey, storedPreviousKeys } from "../crypto/data-key.js";
import { openKeyring } from "../crypto/keyring.js";
import { kubernetesBootstrap } from "../kubernetes/bootstrap/index.js";
import { openDatabase, type Database, type Queryable } from "../storage/database.js";
import { inspectPostmasterLock } from "../storage/postmaster-lock.js";
import { checkEmbeddedAccess } from "./embedded-access.js";

export interface Storage {
  db: Database;
  aead: Aead;
}

/**
 * Hook for --data-key-secret (the Helm chart): the key lives in a Kubernetes Secret the server
 * creates when absent; read after the database opens, which tells whether a key is due.
 */
function dataKeyFromSecret(
  config: Config,
  db: Queryable,
  log: Logger,
  kubeConfig: KubeConfig | undefined,
): Promise<string> {
  const isEmpty = async (): Promise<boolean> => ((await db.query("SELECT 1 FROM key_check")).rowCount ?? 0) === 0;
  return kubernetesBootstrap({ namespace: config.namespace, log, ...(kubeConfig ? { kubeConfig } : {}) }).dataKey(
    config.dataKeySecret!,
    isEmpty,
  );
}

/**
 * The URL of the embedded PostgreSQL a live server (or one it left running) has on this data
 * dir, from its lock file (line 4: the port) and the password beside the cluster; else undefined.
 */
export function runningEmbeddedUrl(dataDir: string): string | undefined {
  const databaseDir = join(dataDir, "pg");
  const state = inspectPostmasterLock(databaseDir);
  if (state.kind !== "in-use" && state.kind !== "orphan") return undefined;
  try {
    const port = Number(readFileSync(join(databaseDir, "postmaster.pid"), "utf8").split("\n")[3]);
    const password = readFileSync(join(dataDir, "pg-password"), "utf8").trim();
    if (!Number.isInteger(port) || port <= 0 || port > 65535 || !password) return undefined;
    return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/strongroom`;
  } catch {
    return undefined;
  }
}

export interface OpenOptions {
  kubeConfig?: KubeConfig | undefined;
  /** Use the embedded PostgreSQL of a server running on this data dir, when there is one. */
  attach?: boolean;
}

export async function openStorage(config: Config, log: Logger, opts: OpenOptions = {}): Promise<Storage> {
  const live = opts.attach && !config.databaseUrl ? runningEmbeddedUrl(config.dataDir) : undefined;
  if (live)
    log.debug({ dataDir: config.dataDir }, "using the embedded PostgreSQL of the server running on this data dir");
  else if (!config.databaseUrl) checkEmbeddedAccess(config.dataDir);
  const localKey = config.dataKeySecret
    ? undefined
    : await resolveDataKey({ dataKey: config.dataKey, dataDir: config.dataDir, log });
  const timeouts = { connectTimeoutMs: config.dbConnectTimeoutMs, queryTimeoutMs: config.dbQueryTimeoutMs };
  const db = await openDatabase({
    databaseUrl: config.databaseUrl ?? live,
    dataDir: config.dataDir,
    log,
    timeouts,
    poolSize: config.dbPoolSize,
  });
  try {
    const dataKey = localKey ?? (await dataKeyFromSecret(config, db.pool, log, opts.kubeConfig));
    // A rotation of a generated key file that has not finished keeps the old key beside it.
    const stored = config.databaseUrl || config.dataKeySecret ? [] : await storedPreviousKeys(config.dataDir);
    const previous = [...new Set([...config.previousDataKeys, ...stored])].filter((k) => k !== dataKey);
    return { db, aead: await openKeyring(db.pool, dataKey, previous) };
  } catch (err) {
    await db.close();
    throw err;
  }
}
