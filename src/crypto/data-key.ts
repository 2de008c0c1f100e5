/**
 * Where the data key comes from. The proof that it is the right one for the database
 * (`key_check`) and the key versions live in keyring.ts.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { generateDataKey } from "./aead.js";

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
