/**
 * The latest values of variables for reads already granted (authz/cached-grants.ts): the
 * reads of one turn of the event loop share one statement (storage/per-turn-loader.ts).
 *
 * The value statement names no role and decides nothing — each read compares the
 * authorization version a row carries with its own cached grant — so reads of different
 * callers can share it safely, exactly as if each had asked alone. A read that arrives
 * alone waits only for the end of the current turn.
 */
import pg from "pg";
import { perTurnLoader } from "../storage/per-turn-loader.js";
import type { Queryable } from "../storage/database.js";
import { AUTHORIZATION_VERSION } from "../authz/closure-cache.js";

export interface ValueRow {
  resource_id: string;
  version: number;
  value: Buffer;
  authorization_version: string;
}

/** One backward probe of the secrets primary key per id, and the version this snapshot sees. */
const LATEST_VALUES = `SELECT i.id AS resource_id, s.version, s.value, ${AUTHORIZATION_VERSION}
  FROM unnest($1::text[]) AS i(id)
  CROSS JOIN LATERAL (SELECT version, value FROM secrets WHERE resource_id = i.id ORDER BY version DESC LIMIT 1) s`;

async function readLatest(db: Queryable, ids: readonly string[]): Promise<Map<string, ValueRow>> {
  const { rows } = await db.query<ValueRow>({ name: "secret-latest-values", text: LATEST_VALUES, values: [ids] });
  return new Map(rows.map((row) => [row.resource_id, row]));
}

/**
 * A large read whose grants were all decided under one version: the statement itself
 * compares it with its snapshot's and returns no rows when they differ, so the rows carry
 * no version each and come back already marked allowed.
 */
const LATEST_VALUES_IF_CURRENT = `SELECT i.id AS resource_id, true AS allowed, s.version, s.value
  FROM unnest($1::text[]) AS i(id)
  CROSS JOIN LATERAL (SELECT version, value FROM secrets WHERE resource_id = i.id ORDER BY version DESC LIMIT 1) s
  WHERE (SELECT version::text FROM authorization_version WHERE id = 1) = $2`;

export interface GrantedRow {
  resource_id: string;
  allowed: true;
  version: number;
  value: Buffer;
}

/** The latest values of `ids` if the authorization version is still `version`; empty when it is not. */
export async function latestValuesIfCurrent(
  db: Queryable,
  ids: readonly string[],
  version: string,
): Promise<GrantedRow[]> {
  return (
    await db.query<GrantedRow>({
      name: "secret-latest-values-if-current",
      text: LATEST_VALUES_IF_CURRENT,
      values: [ids, version],
    })
  ).rows;
}

const joined = perTurnLoader(async (pool: pg.Pool, ids: readonly string[]) => {
  const byId = await readLatest(pool, ids);
  return ids.map((id) => byId.get(id));
});

/**
 * A read of more ids than this has a statement of its own: its round trip is already shared
 * by its ids, and joining costs a promise per id.
 */
export const JOINED_UP_TO = 16;

/**
 * The latest value of each id that has one (an id with none has no entry). Only a pool's
 * reads are shared: a client inside a transaction must see its own statements in its own
 * order, so it reads alone.
 */
export async function latestValues(db: Queryable, ids: readonly string[]): Promise<Map<string, ValueRow>> {
  if (!(db instanceof pg.Pool) || ids.length > JOINED_UP_TO) return readLatest(db, ids);
  const rows = await joined(db).loadMany(ids);
  const byId = new Map<string, ValueRow>();
  for (const row of rows) {
    if (row instanceof Error) throw row;
    if (row) byId.set(row.resource_id, row);
  }
  return byId;
}
