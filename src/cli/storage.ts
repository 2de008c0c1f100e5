/** Storage plus its data key, as every storage-touching command needs them. */
import type { Logger } from "pino";
import type { Config } from "../config.js";
import { Aead } from "../crypto/aead.js";
import { resolveDataKey, verifyDataKey } from "../crypto/data-key.js";
import { openDatabase, type Database } from "../storage/database.js";

export interface Storage {
  db: Database;
  aead: Aead;
}

export async function openStorage(config: Config, log: Logger): Promise<Storage> {
  const dataKey = await resolveDataKey({ dataKey: config.dataKey, dataDir: config.dataDir, log });
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log });
  const aead = Aead.fromBase64(dataKey);
  try {
    await verifyDataKey(db.pool, aead);
  } catch (err) {
    await db.close();
    throw err;
  }
  return { db, aead };
}
