/** Storage plus its data key, as every storage-touching command needs them. */
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { Aead } from "../crypto/aead.js";
import { resolveDataKey, storedPreviousKeys } from "../crypto/data-key.js";
import { openKeyring } from "../crypto/keyring.js";
import { kubernetesBootstrap } from "../kubernetes/bootstrap/index.js";
import { openDatabase, type Database, type Queryable } from "../storage/database.js";

export interface Storage {
  db: Database;
  aead: Aead;
}

/**
 * Hook for --data-key-secret (the Helm chart): the key lives in a Kubernetes Secret the server
 * creates when absent; read after the database opens, which tells whether a key is due.
 */
function dataKeyFromSecret(config: Config, db: Queryable, log: Logger, kubeConfig: KubeConfig | undefined): Promise<string> {
  const isEmpty = async (): Promise<boolean> => ((await db.query("SELECT 1 FROM key_check")).rowCount ?? 0) === 0;
  return kubernetesBootstrap({ namespace: config.namespace, log, ...(kubeConfig ? { kubeConfig } : {}) }).dataKey(config.dataKeySecret!, isEmpty);
}

export async function openStorage(config: Config, log: Logger, kube: { kubeConfig?: KubeConfig | undefined } = {}): Promise<Storage> {
  const localKey = config.dataKeySecret ? undefined : await resolveDataKey({ dataKey: config.dataKey, dataDir: config.dataDir, log });
  const timeouts = { connectTimeoutMs: config.dbConnectTimeoutMs, queryTimeoutMs: config.dbQueryTimeoutMs };
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log, timeouts, poolSize: config.dbPoolSize });
  try {
    const dataKey = localKey ?? (await dataKeyFromSecret(config, db.pool, log, kube.kubeConfig));
    // A rotation of a generated key file that has not finished keeps the old key beside it.
    const stored = config.databaseUrl || config.dataKeySecret ? [] : await storedPreviousKeys(config.dataDir);
    const previous = [...new Set([...config.previousDataKeys, ...stored])].filter((k) => k !== dataKey);
    return { db, aead: await openKeyring(db.pool, dataKey, previous) };
  } catch (err) {
    await db.close();
    throw err;
  }
}
