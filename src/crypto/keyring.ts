/**
 * The data keys a process holds, the version byte each one writes, and the proof that
 * they are the right keys for this database.
 *
 * Operators supply the keys (STRONGROOM_DATA_KEY encrypts, STRONGROOM_PREVIOUS_DATA_KEYS
 * only decrypt); the database assigns the version numbers, in `data_keys`, keyed by a
 * fingerprint (an HMAC under the key itself, never the key). So every replica and every
 * `data-key rotate` agrees which byte means which key, whatever order keys are listed in.
 * `key_check` holds one value encrypted under the key the database was last rotated to:
 * a process that does not hold that key refuses to start. See docs/adr/0012.
 */
import { createHmac, createSecretKey } from "node:crypto";
import type pg from "pg";
import { FatalStartupError } from "../errors.js";
import type { Queryable } from "../storage/database.js";
import { inTransaction } from "../storage/transaction.js";
import { Aead, DecryptionError } from "./aead.js";

export const MAX_KEY_VERSION = 255;
const FINGERPRINT_LABEL = "strongroom data key fingerprint v1";
const KEY_CHECK_AAD = "strongroom:key-check";
const KEY_CHECK_PLAINTEXT = Buffer.from("strongroom data key check v1");
const LOCK_KEY = 7_310_242; // arbitrary, constant: "strongroom data key versions"
const MISMATCH = "the data key does not match the encrypted data in this database";
const REFUSING = "check STRONGROOM_DATA_KEY and STRONGROOM_PREVIOUS_DATA_KEYS (refusing to start)";

/** A keyed hash that names a key without revealing anything about it. */
export function fingerprint(raw: Buffer): string {
  return createHmac("sha256", createSecretKey(raw)).update(FINGERPRINT_LABEL).digest("hex");
}

/**
 * Pure: the version of each held key (in order), registering unknown ones after the
 * highest registered version. Throws when the 255 version bytes are used up.
 */
export function planVersions(
  registered: ReadonlyMap<string, number>,
  held: string[],
): { versions: number[]; added: { version: number; fingerprint: string }[] } {
  let next = Math.max(0, ...registered.values()) + 1;
  const added: { version: number; fingerprint: string }[] = [];
  const versions = held.map((fp) => {
    const known = registered.get(fp) ?? added.find((a) => a.fingerprint === fp)?.version;
    if (known !== undefined) return known;
    if (next > MAX_KEY_VERSION) {
      throw new FatalStartupError(
        `all ${MAX_KEY_VERSION} data key versions of this database are used; a new data key cannot be registered (see docs/adr/0012-data-key-rotation.md)`,
      );
    }
    added.push({ version: next, fingerprint: fp });
    return next++;
  });
  return { versions, added };
}

interface HeldKey {
  raw: Buffer;
  fingerprint: string;
}

/**
 * Register the held keys' versions, verify `key_check`, and return the Aead that encrypts
 * under `current`. One transaction behind an advisory lock: replicas starting together
 * with a new key register it once.
 */
export async function openKeyring(pool: pg.Pool, current: string, previous: readonly string[] = []): Promise<Aead> {
  const held: HeldKey[] = [current, ...previous].map((b64) => {
    const raw = Buffer.from(b64, "base64");
    return { raw, fingerprint: fingerprint(raw) };
  });
  return inTransaction(pool, async (db) => {
    await db.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
    const registered = new Map(
      (await db.query<{ version: number; fingerprint: string }>("SELECT version, fingerprint FROM data_keys")).rows.map(
        (r) => [r.fingerprint, r.version],
      ),
    );
    const check = (await db.query<{ blob: Buffer }>("SELECT blob FROM key_check WHERE id = 1")).rows[0]?.blob;
    if (check && registered.size === 0) await adoptLegacyKey(db, check, held, registered);
    if (check) verifyKeyCheck(check, held, registered);
    const plan = planVersions(
      registered,
      held.map((k) => k.fingerprint),
    );
    for (const a of plan.added)
      await db.query("INSERT INTO data_keys (version, fingerprint) VALUES ($1, $2)", [a.version, a.fingerprint]);
    const aead = new Aead(new Map(held.map((k, i) => [plan.versions[i]!, k.raw])), plan.versions[0]);
    if (!check) await writeKeyCheck(db, aead);
    return aead;
  });
}

/** Re-encrypt the proof under the Aead's current key: from now on only holders of it may start. */
export async function writeKeyCheck(db: Queryable, aead: Aead): Promise<void> {
  await db.query(
    "INSERT INTO key_check (id, blob) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET blob = EXCLUDED.blob",
    [aead.encrypt(KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)],
  );
}

const opens = (raw: Buffer, version: number, blob: Buffer): boolean => {
  try {
    new Aead(new Map([[version, raw]])).decrypt(blob, KEY_CHECK_AAD);
    return true;
  } catch (err) {
    if (err instanceof DecryptionError) return false;
    throw err;
  }
};

/** A database from before versions were recorded: the key that opens key_check owns its byte. */
async function adoptLegacyKey(
  db: Queryable,
  check: Buffer,
  held: HeldKey[],
  registered: Map<string, number>,
): Promise<void> {
  const version = check[0] ?? 1;
  const owner = held.find((k) => opens(k.raw, version, check));
  if (!owner) throw new FatalStartupError(`${MISMATCH}; ${REFUSING}`);
  await db.query("INSERT INTO data_keys (version, fingerprint) VALUES ($1, $2)", [version, owner.fingerprint]);
  registered.set(owner.fingerprint, version);
}

function verifyKeyCheck(check: Buffer, held: HeldKey[], registered: ReadonlyMap<string, number>): void {
  const version = check[0] ?? 0;
  const key = held.find((k) => registered.get(k.fingerprint) === version);
  if (!key) {
    throw new FatalStartupError(
      `${MISMATCH}: its key check is under data key version ${version}, which is not among the keys given; ${REFUSING}`,
    );
  }
  if (!opens(key.raw, version, check)) throw new FatalStartupError(`${MISMATCH}; ${REFUSING}`);
}
