/**
 * Where the data key comes from, and the proof that it is the right one.
 * A database remembers (in `key_check`) one value encrypted under the key it was first
 * written with; a different key fails to decrypt it, and the server refuses to start
 * rather than answer every request with an error.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { FatalStartupError } from "../errors.js";
import type { Queryable } from "../storage/database.js";
import { Aead, DecryptionError, generateDataKey } from "./aead.js";

const KEY_CHECK_AAD = "strongroom:key-check";
const KEY_CHECK_PLAINTEXT = Buffer.from("strongroom data key check v1");

/** The configured key, or (embedded storage only) one generated into the data dir. */
export async function resolveDataKey(opts: { dataKey?: string | undefined; dataDir: string; log: Logger }): Promise<string> {
  if (opts.dataKey) return opts.dataKey;
  const file = join(opts.dataDir, "data-key");
  if (existsSync(file)) {
    opts.log.warn({ file }, "STRONGROOM_DATA_KEY is not set: using the data key stored beside the database; set it explicitly in production");
    return (await readFile(file, "utf8")).trim();
  }
  await mkdir(opts.dataDir, { recursive: true });
  const key = generateDataKey();
  await writeFile(file, key + "\n", { mode: 0o600 });
  opts.log.warn(
    { file },
    "!!! STRONGROOM_DATA_KEY is not set: GENERATED A NEW DATA KEY and stored it beside the database. Anyone who can read the data dir can decrypt every secret. Set STRONGROOM_DATA_KEY in production !!!",
  );
  return key;
}

export async function verifyDataKey(db: Queryable, aead: Aead): Promise<void> {
  const { rows } = await db.query<{ blob: Buffer }>("SELECT blob FROM key_check WHERE id = 1");
  if (rows[0]) {
    try {
      aead.decrypt(rows[0].blob, KEY_CHECK_AAD);
      return;
    } catch (err) {
      if (err instanceof DecryptionError) {
        throw new FatalStartupError(
          "the data key does not match the encrypted data in this database; check STRONGROOM_DATA_KEY (refusing to start)",
        );
      }
      throw err;
    }
  }
  await db.query("INSERT INTO key_check (id, blob) VALUES (1, $1) ON CONFLICT (id) DO NOTHING", [
    aead.encrypt(KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD),
  ]);
}
