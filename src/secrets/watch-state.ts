/**
 * What a watcher compares: a cursor over the latest version of each watched variable.
 * Authorized as a batch read (Conjur's order): 403 if any found variable may not be
 * executed, then 404 naming the first requested id that is missing or has no value.
 * Reads versions only, never values.
 *
 * Two statements, both without values:
 * - `watchRows`: the full check of one role over a set of ids (its closure, ownership,
 *   `execute`), with each id's latest version, mime type and the authorization version its
 *   snapshot saw; its grants go to the read-grant cache (authz/cached-grants.ts), so the
 *   change stream can later trust them while the authorization version stays the same.
 * - `latestVersions`: for a wave of changes, the latest version of each id and the
 *   authorization version — one statement whoever follows them; each follower is then
 *   judged against its own cached grants (watch-hub.ts).
 */
import { createHash } from "node:crypto";
import pg from "pg";
import { AUTHORIZATION_VERSION } from "../authz/closure-cache.js";
import { readGrants } from "../authz/cached-grants.js";
import { CLOSURE_CTE, permitted } from "../authz/permissions.js";
import { errors, type ApiError } from "../errors.js";

/** What the statements run on: the pool (a request's own check) or the stream's connection. */
export interface Db {
  query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

export interface WatchRow {
  resource_id: string;
  allowed: boolean;
  version: number | null;
  mime_type: string | null;
  authorization_version: string;
}

const WATCH_ROWS = `WITH RECURSIVE ${CLOSURE_CTE}
  SELECT r.resource_id, ${permitted("'execute'")} AS allowed,
         (SELECT max(version) FROM secrets s WHERE s.resource_id = r.resource_id) AS version,
         (SELECT a.value FROM annotations a WHERE a.resource_id = r.resource_id AND a.name = 'conjur/mime_type') AS mime_type,
         ${AUTHORIZATION_VERSION}
  FROM resources r WHERE r.resource_id = ANY($2::text[])`;

/** The full check of `roleId` over `ids`; remembers its grants (pool or dedicated connection: no transaction). */
export async function watchRows(db: Db, roleId: string, ids: readonly string[]): Promise<Map<string, WatchRow>> {
  const { rows } = await db.query<WatchRow>({ name: "watch-rows", text: WATCH_ROWS, values: [roleId, ids] });
  for (const row of rows) {
    if (row.allowed)
      readGrants.grant(roleId, row.resource_id, { version: row.authorization_version, mimeType: row.mime_type });
    else readGrants.forget(roleId, row.resource_id);
  }
  return new Map(rows.map((row) => [row.resource_id, row]));
}

/** The cursor over `ids` given each one's latest version (order-free). */
export function cursorOf(ids: readonly string[], versionOf: (id: string) => number): string {
  const hash = createHash("sha256");
  for (const id of [...ids].sort()) hash.update(`${id}\0${versionOf(id)}\n`);
  return hash.digest("base64url").slice(0, 22);
}

export interface ListVerdict {
  cursor: string;
  /** Some id has no known version (it was signalled while the statement ran). */
  unknown: boolean;
  /** Some id has no version any more (deleted or emptied). */
  gone: boolean;
}

/**
 * Judges id lists against one set of versions (undefined: unknown, null: none), each distinct
 * list once: the followers of one workload watch the same list, so a wave of 10,000 hashes a
 * handful of cursors, not 10,000.
 */
export function judgeLists(
  versionOf: (id: string) => number | null | undefined,
): (ids: readonly string[]) => ListVerdict {
  const judged = new Map<string, ListVerdict>();
  return (ids) => {
    // NUL never occurs in a stored id (input/limits.ts): the key of a list is unambiguous.
    const key = ids.join("\0");
    let verdict = judged.get(key);
    if (!verdict) {
      const found: ListVerdict = { cursor: "", unknown: false, gone: false };
      found.cursor = cursorOf(ids, (id) => {
        const version = versionOf(id);
        if (version === undefined) found.unknown = true;
        if (version === null) found.gone = true;
        return version ?? 0;
      });
      judged.set(key, (verdict = found));
    }
    return verdict;
  };
}

/** A watcher's answer from a full check's rows: its cursor, or the batch read's error. */
export function judge(
  rows: ReadonlyMap<string, WatchRow>,
  ids: readonly string[],
): { cursor: string } | { error: ApiError } {
  if (ids.some((id) => rows.get(id)?.allowed === false)) return { error: errors.forbidden() };
  const missing = ids.find((id) => rows.get(id)?.version == null);
  if (missing !== undefined) return { error: errors.secretNotFound(missing) };
  return { cursor: cursorOf(ids, (id) => rows.get(id)!.version!) };
}

/** Throwing form, for one caller. */
export async function watchCursor(db: Db, roleId: string, ids: readonly string[]): Promise<string> {
  const verdict = judge(await watchRows(db, roleId, [...new Set(ids)]), [...new Set(ids)]);
  if ("error" in verdict) throw verdict.error;
  return verdict.cursor;
}

const LATEST_VERSIONS = `SELECT i.id AS resource_id, (SELECT max(version) FROM secrets s WHERE s.resource_id = i.id) AS version, ${AUTHORIZATION_VERSION}
  FROM unnest($1::text[]) AS i(id)`;

/** Latest version of each id (null: none, or no such variable) and the authorization version, in one snapshot. */
export async function latestVersions(
  db: Db,
  ids: readonly string[],
): Promise<{ versions: Map<string, number | null>; authorizationVersion: string | undefined }> {
  const { rows } = await db.query<{ resource_id: string; version: number | null; authorization_version: string }>({
    name: "watch-latest-versions",
    text: LATEST_VERSIONS,
    values: [ids],
  });
  return {
    versions: new Map(rows.map((r) => [r.resource_id, r.version])),
    authorizationVersion: rows[0]?.authorization_version,
  };
}

/**
 * The change stream's own connection: its statements never wait for (or hold) one of the
 * pool's, so no request waits because of a wave. Connects on first use with the pool's
 * settings; after an error the next statement connects afresh.
 */
export class StreamConnection implements Db {
  #client: Promise<pg.Client> | undefined;
  #closed = false;

  constructor(private readonly options: pg.ClientConfig) {}

  #connect(): Promise<pg.Client> {
    if (!this.#client) {
      const client = new pg.Client(this.options);
      const drop = (): void => {
        if (this.#client === connecting) this.#client = undefined;
      };
      client.on("error", drop);
      client.on("end", drop);
      const connecting = client.connect().then(
        () => client,
        (err: unknown) => {
          drop();
          throw err;
        },
      );
      this.#client = connecting;
    }
    return this.#client;
  }

  query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    if (this.#closed) return Promise.reject(new Error("the change stream is closed"));
    return this.#connect().then((client) => client.query<R>(config));
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.then((c) => c.end()).catch(() => undefined);
  }
}
