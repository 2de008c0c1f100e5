/**
 * Where the data key comes from. The proof that it is the right one for the database
 * (`key_check`) and the key versions live in keyring.ts.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { generateDataKey } from "./aead.js";

const keyFile = (dataDir: string): string => join(dataDir, "data-key");
const previousFile = (dataDir: string): string => join(dataDir, "data-key.previous");

/** Replaces a key file whole (a crash leaves the old or the new, never half of one). */
async function writeKeyFile(file: string, content: string): Promise<void> {
  await writeFile(`${file}.tmp`, content, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

/** The configured key, or (embedded storage only) one generated into the data dir. */
export async function resolveDataKey(opts: {
  dataKey?: string | undefined;
  dataDir: string;
  log: Logger;
}): Promise<string> {
  if (opts.dataKey) return opts.dataKey;
  const file = keyFile(opts.dataDir);
  if (existsSync(file)) {
    opts.log.warn(
      { file },
      "STRONGROOM_DATA_KEY is not set: using the data key stored beside the database; set it explicitly in production",
    );
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

/** Decrypt-only keys kept beside a generated key while a rotation away from them is unfinished. */
export async function storedPreviousKeys(dataDir: string): Promise<string[]> {
  const file = previousFile(dataDir);
  if (!existsSync(file)) return [];
  return (await readFile(file, "utf8"))
    .split("\n")
    .map((k) => k.trim())
    .filter(Boolean);
}

/**
 * `data-key rotate` on embedded storage with a generated key file: the installation must stay
 * startable the way it started (a plain `npm start`, no key in the environment). Before any
 * re-encryption the new key becomes the file's, the old one moves beside it (read as a previous
 * key by every start, so a rotation interrupted at any point still starts); `finish` removes
 * it once every value is under the new key. Undefined when there is no key file to keep.
 */
export async function stageKeyFileRotation(
  dataDir: string,
  newKey: string,
): Promise<{ previous: string[]; finish: () => Promise<void> } | undefined> {
  const file = keyFile(dataDir);
  if (!existsSync(file)) return undefined;
  const old = (await readFile(file, "utf8")).trim();
  const kept = await storedPreviousKeys(dataDir);
  const previous = [...new Set([...(old === newKey ? [] : [old]), ...kept])].filter((k) => k !== newKey);
  if (previous.length) await writeKeyFile(previousFile(dataDir), previous.join("\n") + "\n");
  if (old !== newKey) await writeKeyFile(file, newKey + "\n");
  return { previous, finish: () => unlink(previousFile(dataDir)).catch(() => undefined) };
}
