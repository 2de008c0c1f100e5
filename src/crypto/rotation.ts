/**
 * Re-encrypt every stored ciphertext under the Aead's current key, while servers keep
 * serving. Safe to interrupt and run again at any point:
 * - work is found by the blob's leading version byte (any byte but the current one), so a
 *   second run simply continues where the first stopped, however it stopped (kill -9 too:
 *   a batch is one statement, so Postgres applies all of it or none);
 * - each batch is one UPDATE (one short transaction) that replaces a row only if it still
 *   holds the ciphertext that was read (compare-and-swap), so a concurrent write is never
 *   overwritten with stale data; a lost race is picked up by the next sweep;
 * - both old and new ciphertexts decrypt on every server holding both keys, so a reader
 *   sees the right plaintext before, during and after.
 * key_check is rewritten first: from then on only processes holding the new key may start.
 */
import type { Queryable } from "../storage/database.js";
import { type Aead, DecryptionError, keyVersionOf } from "./aead.js";
import { ENCRYPTED_COLUMNS, type EncryptedColumn } from "./encrypted-columns.js";
import { writeKeyCheck } from "./keyring.js";

/** Sweeps before giving up on rows that keep changing under an old key. */
const MAX_SWEEPS = 5;

export interface Unreadable {
  label: string;
  id: string;
  reason: string;
}

export interface RotationResult {
  version: number;
  /** Rows re-encrypted, per column label. */
  reencrypted: Record<string, number>;
  /** Rows left under another key because this process cannot decrypt them. */
  unreadable: Unreadable[];
  /** Rows still under another key at the end (unreadable ones included). */
  remaining: number;
  sweeps: number;
}

export interface RotationDeps {
  db: Queryable;
  aead: Aead;
  batchSize: number;
  columns?: readonly EncryptedColumn[];
  onProgress?: (label: string, reencrypted: number) => void;
}

interface Row {
  key: unknown[];
  blob: Buffer;
}

/** Pure: the new ciphertext for each row, or why it cannot be re-encrypted. */
export function reencryptRows(
  aead: Aead,
  column: EncryptedColumn,
  rows: readonly Row[],
): { updates: (Row & { fresh: Buffer })[]; unreadable: Unreadable[] } {
  const updates: (Row & { fresh: Buffer })[] = [];
  const unreadable: Unreadable[] = [];
  for (const row of rows) {
    const aad = column.aad(row.key);
    const version = keyVersionOf(row.blob);
    const id = row.key.map(String).join(" ");
    if (version === undefined || !aead.holds(version)) {
      unreadable.push({ label: column.label, id, reason: `data key version ${version ?? "(empty)"} was not given` });
      continue;
    }
    try {
      updates.push({ ...row, fresh: aead.encrypt(aead.decrypt(row.blob, aad), aad) });
    } catch (err) {
      if (!(err instanceof DecryptionError)) throw err;
      unreadable.push({ label: column.label, id, reason: `does not decrypt under data key version ${version}` });
    }
  }
  return { updates, unreadable };
}

export async function rotateDataKey(deps: RotationDeps): Promise<RotationResult> {
  const columns = deps.columns ?? ENCRYPTED_COLUMNS;
  const current = Buffer.of(deps.aead.currentVersion);
  await writeKeyCheck(deps.db, deps.aead);
  const reencrypted: Record<string, number> = Object.fromEntries(columns.map((c) => [c.label, 0]));
  let unreadable: Unreadable[] = [];
  for (let sweep = 1; sweep <= MAX_SWEEPS; sweep++) {
    let changed = 0;
    let lostRaces = 0;
    unreadable = [];
    for (const column of columns) {
      const sweepResult = await sweepColumn(deps, column, current, (n) => {
        reencrypted[column.label]! += n;
        deps.onProgress?.(column.label, reencrypted[column.label]!);
      });
      changed += sweepResult.changed;
      lostRaces += sweepResult.lostRaces;
      unreadable.push(...sweepResult.unreadable);
    }
    // A sweep that found nothing to do proves the rest are under the current key.
    if (changed === 0 && lostRaces === 0)
      return {
        version: deps.aead.currentVersion,
        reencrypted,
        unreadable,
        remaining: unreadable.length,
        sweeps: sweep,
      };
  }
  const remaining = await countNotUnder(deps.db, columns, current);
  return { version: deps.aead.currentVersion, reencrypted, unreadable, remaining, sweeps: MAX_SWEEPS };
}

async function sweepColumn(
  deps: RotationDeps,
  column: EncryptedColumn,
  current: Buffer,
  progressed: (n: number) => void,
): Promise<{ changed: number; lostRaces: number; unreadable: Unreadable[] }> {
  const keyList = column.keys.map((k) => k.name).join(", ");
  const notCurrent = `${column.column} IS NOT NULL AND substring(${column.column} from 1 for 1) <> $1`;
  const after = `(${keyList}) > (${column.keys.map((k, i) => `$${i + 3}::${k.type}`).join(", ")})`;
  const select = (cursor: unknown[] | undefined): string =>
    `SELECT ${keyList}, ${column.column} AS blob FROM ${column.table} WHERE ${notCurrent}${cursor ? ` AND ${after}` : ""} ORDER BY ${keyList} LIMIT $2`;
  const update = `UPDATE ${column.table} AS t SET ${column.column} = u.fresh
    FROM unnest(${column.keys.map((k, i) => `$${i + 1}::${k.type}[]`).join(", ")}, $${column.keys.length + 1}::bytea[], $${column.keys.length + 2}::bytea[])
      AS u(${column.keys.map((_, i) => `k${i}`).join(", ")}, stale, fresh)
    WHERE ${column.keys.map((k, i) => `t.${k.name} = u.k${i}`).join(" AND ")} AND t.${column.column} = u.stale`;
  let cursor: unknown[] | undefined;
  let changed = 0;
  let lostRaces = 0;
  const unreadable: Unreadable[] = [];
  for (;;) {
    const { rows } = await deps.db.query<Record<string, unknown>>(select(cursor), [
      current,
      deps.batchSize,
      ...(cursor ?? []),
    ]);
    if (rows.length === 0) break;
    const batch = rows.map((r) => ({ key: column.keys.map((k) => r[k.name]), blob: r.blob as Buffer }));
    cursor = batch.at(-1)!.key;
    const result = reencryptRows(deps.aead, column, batch);
    unreadable.push(...result.unreadable);
    if (result.updates.length > 0) {
      const params = [
        ...column.keys.map((_, i) => result.updates.map((u) => u.key[i])),
        result.updates.map((u) => u.blob),
        result.updates.map((u) => u.fresh),
      ];
      const n = (await deps.db.query(update, params)).rowCount ?? 0;
      changed += n;
      lostRaces += result.updates.length - n;
      progressed(n);
    }
  }
  return { changed, lostRaces, unreadable };
}

async function countNotUnder(db: Queryable, columns: readonly EncryptedColumn[], current: Buffer): Promise<number> {
  let total = 0;
  for (const c of columns) {
    const { rows } = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${c.table} WHERE ${c.column} IS NOT NULL AND substring(${c.column} from 1 for 1) <> $1`,
      [current],
    );
    total += Number(rows[0]!.n);
  }
  return total;
}
