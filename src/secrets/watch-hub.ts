/**
 * The change stream behind `GET /secrets/watch`, fanned out in memory.
 *
 * - An index variable → watchers. The server's one LISTEN connection (secrets/changes.ts)
 *   calls `notify`; the notifications of one turn make one **wave**: ONE statement reads the
 *   latest version of every changed id (and of any followed id whose version is not known)
 *   with the authorization version, and every follower is answered from it.
 * - Authorization stays exact: a follower is told of a change only if each of its ids has a
 *   cached read grant (authz/cached-grants.ts) decided under the very authorization version
 *   the wave's statement saw. Otherwise its role gets the full check — one statement per
 *   distinct role, not per watcher — and a revoked watcher gets 403 and learns nothing.
 *   Timed-out watchers are judged the same way, in batches a second apart (a safety net).
 * - Re-arming costs no statement when nothing changed: the hub remembers each followed id's
 *   latest version until a signal for it arrives, so a watcher whose cursor and grants match
 *   simply waits (whatever answers it later checks afresh); a cursor is hashed once per id list.
 * - Waves, timeouts and re-checks run on the stream's own connection (watch-state.ts), never
 *   the pool's. Waves run one at a time; signals that arrive meanwhile make the next wave.
 * - A watcher is a long-poll (its first answer ends it) or a stream (watcher.ts: it is told
 *   every answer and stays). At most `maxWatchers`; memory per watch: bench/README.md (agents).
 */
import type pg from "pg";
import { readGrants } from "../authz/cached-grants.js";
import { errors } from "../errors.js";
import { RememberedVersions } from "./remembered-versions.js";
import { newWatcher } from "./watcher.js";
import {
  judge,
  judgeLists,
  latestVersions,
  StreamConnection,
  watchRows,
  type Db,
  type WatchRow,
} from "./watch-state.js";
import {
  WatchHubFullError,
  type ClientGone,
  type Follow,
  type JoinedCheck,
  type WatchAnswer,
  type Watcher,
  type WatchHubOptions,
} from "./watch-types.js";

export { WatchHubFullError, type ClientGone, type WatchAnswer, type WatchHubOptions } from "./watch-types.js";

/** Timeouts are answered in batches this far apart (one statement each); agents allow 15 s more. */
const TIMEOUT_BATCH_MS = 1000;

/** Remembered versions and signal stamps beyond this many are dropped all at once. */
const MEMORY_LIMIT = 200_000;

export class WatchHub {
  readonly #byId = new Map<string, Set<Watcher>>();
  #count = 0;
  #closed = false;
  #db: Db | undefined;
  /** id → latest version, valid until the next signal for that id; and the cursors they give. */
  readonly #versions = new RememberedVersions(MEMORY_LIMIT);
  /** id → stamp of its last signal; ids absent were last signalled at or before #floor. */
  readonly #signalled = new Map<string, number>();
  #stamp = 0;
  #floor = 0;
  /** The authorization version the latest-started finished statement saw, and its start. */
  #authorization: string | undefined;
  #authorizationStart = 0;
  #statements = 0;
  readonly #joined = new Map<string, JoinedCheck>();
  readonly #pendingIds = new Set<string>();
  readonly #pendingWatchers = new Set<Watcher>();
  #wave: Promise<void> | undefined;
  #expired: Watcher[] = [];
  #expiryTimer: NodeJS.Timeout | undefined;
  /** When the first signal of the next wave arrived (performance.now()). */
  #waveSignalledAt: number | undefined;
  /** Statements the stream ran (waves, timeout checks, re-checks): a test and bench figure. */
  statements = 0;
  waves = 0;
  /** Full checks a watch request ran on the pool (absent or stale cursor, or nothing remembered). */
  requestChecks = 0;

  constructor(
    readonly maxWatchers: number,
    private readonly options: WatchHubOptions = {},
  ) {
    this.#db = options.db;
  }

  get watchers(): number {
    return this.#count;
  }

  /** The stream's connection is made from the pool's settings, on first use. */
  attach(pool: pg.Pool): void {
    this.#db ??= new StreamConnection(pool.options);
  }

  /** The stream's connection: attach() made it before any watcher could wait. */
  #stream(): Db {
    if (!this.#db) throw new Error("the change stream has no connection");
    return this.#db;
  }

  /** A variable got a new version (or was deleted): its followers are answered in the next wave. */
  notify(variableId: string): void {
    this.#stamp++;
    if (this.#signalled.size >= MEMORY_LIMIT) this.#forgetSignals();
    this.#signalled.set(variableId, this.#stamp);
    this.#versions.forget(variableId);
    const followers = this.#byId.get(variableId);
    if (!followers) return;
    this.#pendingIds.add(variableId);
    for (const watcher of followers) this.#pendingWatchers.add(watcher);
    this.#waveSignalledAt ??= performance.now();
    this.#scheduleWave();
  }

  /** Signals may have been missed (the LISTEN connection was lost): forget every version, re-check every watcher. */
  notifyAll(): void {
    this.#stamp++;
    this.#forgetSignals();
    this.#versions.clear();
    this.#waveSignalledAt ??= performance.now();
    for (const [id, followers] of this.#byId) {
      this.#pendingIds.add(id);
      for (const watcher of followers) this.#pendingWatchers.add(watcher);
    }
    this.#scheduleWave();
  }

  /** Ends every wait ("aborted") and refuses new ones: the server is stopping. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#expiryTimer);
    const all = new Set([...this.#byId.values()].flatMap((set) => [...set]));
    for (const watcher of all) watcher.done("aborted");
    if (this.#db instanceof StreamConnection) void this.#db.close();
  }

  /** Answers at once if `known` is not the cursor, else on a change, else after `timeoutMs` (throws 403/404, full). */
  async watch(
    pool: pg.Pool,
    roleId: string,
    ids: readonly string[],
    known: string | undefined,
    timeoutMs: number,
    client?: ClientGone,
    follow?: Follow,
  ): Promise<WatchAnswer | "aborted"> {
    this.attach(pool);
    if (this.#closed || client?.gone) return "aborted";
    const remembered = this.#rememberedCursor(roleId, ids);
    if (remembered !== undefined && remembered === known)
      return this.#arm(roleId, ids, remembered, { timeoutMs, client, follow }, this.#stamp);
    // The full check, as a batch read: a caller who may not read these never holds a watch.
    const since = this.#stamp;
    const rows = await this.#checkJoined(pool, roleId, ids, since);
    const verdict = judge(rows, ids);
    if ("error" in verdict) throw verdict.error;
    if (verdict.cursor !== known) return { changed: true, cursor: verdict.cursor };
    return this.#arm(roleId, ids, verdict.cursor, { timeoutMs, client, follow }, since);
  }

  /** The cursor from remembered versions, if every id has one and a grant under the last authorization version seen. */
  #rememberedCursor(roleId: string, ids: readonly string[]): string | undefined {
    if (this.#authorization === undefined) return undefined;
    for (const id of ids) {
      if (!this.#versions.has(id) || readGrants.get(roleId, id)?.version !== this.#authorization) return undefined;
    }
    return this.#versions.cursor(ids);
  }

  #arm(
    roleId: string,
    ids: readonly string[],
    cursor: string,
    { timeoutMs, client, follow }: { timeoutMs: number; client?: ClientGone; follow?: Follow },
    since: number,
  ): Promise<WatchAnswer | "aborted"> {
    if (this.#count >= this.maxWatchers)
      throw new WatchHubFullError(`the server already holds ${this.maxWatchers} watches`);
    if (client?.gone || this.#closed) return Promise.resolve("aborted");
    this.#count++;
    return new Promise((resolve, reject) => {
      const watcher = newWatcher(
        { roleId, ids, cursor, timeoutMs, follow },
        { expire: (w) => this.#expire(w), release: (w) => this.#release(w, client) },
        { resolve, reject },
      );
      if (client) client.onGone = () => watcher.done("aborted");
      for (const id of ids) {
        let set = this.#byId.get(id);
        if (!set) this.#byId.set(id, (set = new Set()));
        set.add(watcher);
      }
      follow?.onArmed?.();
      // A change signalled while its check ran: judge it in the next wave.
      const missed = ids.filter((id) => this.#signalledSince(id, since));
      if (missed.length > 0) {
        for (const id of missed) this.#pendingIds.add(id);
        this.#pendingWatchers.add(watcher);
        this.#scheduleWave();
      }
    });
  }

  /** A watcher ended: it follows nothing any more. */
  #release(watcher: Watcher, client: ClientGone | undefined): void {
    if (client) client.onGone = undefined;
    for (const id of watcher.ids) {
      const set = this.#byId.get(id);
      set?.delete(watcher);
      if (set?.size === 0) this.#byId.delete(id);
    }
    this.#pendingWatchers.delete(watcher);
    this.#count--;
  }

  #signalledSince(id: string, since: number): boolean {
    return (this.#signalled.get(id) ?? this.#floor) > since;
  }

  #forgetSignals(): void {
    this.#signalled.clear();
    this.#floor = this.#stamp;
  }

  /** Remember versions read by a statement that started at signal stamp `since` (unless signalled since). */
  #learn(
    versions: Iterable<[string, number | null]>,
    authorization: string | undefined,
    started: number,
    since: number,
  ): void {
    for (const [id, version] of versions) {
      if (version !== null && !this.#signalledSince(id, since)) this.#versions.set(id, version);
    }
    if (authorization !== undefined && started > this.#authorizationStart) {
      this.#authorization = authorization;
      this.#authorizationStart = started;
    }
  }

  /**
   * The full checks of one turn of the event loop, joined per role: a fleet arriving
   * together (10,000 agents of 100 service accounts) costs 100 statements, not 10,000, and
   * so never queues on the pool.
   */
  #checkJoined(pool: Db, roleId: string, ids: readonly string[], since: number): Promise<Map<string, WatchRow>> {
    let entry = this.#joined.get(roleId);
    if (!entry) this.#joined.set(roleId, (entry = { ids: new Set(), since, waiters: [] }));
    for (const id of ids) entry.ids.add(id);
    entry.since = Math.min(entry.since, since);
    if (this.#joined.size === 1 && entry.waiters.length === 0) {
      setImmediate(() => {
        const batch = [...this.#joined];
        this.#joined.clear();
        for (const [role, { ids: all, since: from, waiters }] of batch) {
          this.requestChecks++;
          this.#check(pool, role, [...all], from).then(
            (rows) => waiters.forEach((w) => w.resolve(rows)),
            (err: unknown) => waiters.forEach((w) => w.reject(err)),
          );
        }
      });
    }
    return new Promise((resolve, reject) => entry.waiters.push({ resolve, reject }));
  }

  async #check(db: Db, roleId: string, ids: readonly string[], since: number): Promise<Map<string, WatchRow>> {
    const started = ++this.#statements;
    const rows = await watchRows(db, roleId, ids);
    const first = rows.values().next().value;
    this.#learn(
      [...rows].map(([id, row]) => [id, row.version]),
      first?.authorization_version,
      started,
      since,
    );
    return rows;
  }

  #scheduleWave(): void {
    if (this.#wave || this.#closed) return;
    this.#wave = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#runWave())
      .finally(() => {
        this.#wave = undefined;
        if (this.#pendingWatchers.size > 0) this.#scheduleWave();
      });
  }

  async #runWave(): Promise<void> {
    const followers = [...this.#pendingWatchers].filter((w) => !w.finished);
    const changed = [...this.#pendingIds];
    const signalledAt = this.#waveSignalledAt ?? performance.now();
    this.#waveSignalledAt = undefined;
    this.#pendingWatchers.clear();
    this.#pendingIds.clear();
    if (followers.length === 0) return;
    this.waves++;
    await this.#answer(followers, changed, false);
    // The answers are written by the routes' continuations (microtasks): measured once they ran.
    const onWave = this.options.onWave;
    if (onWave) setImmediate(() => onWave(followers.length, (performance.now() - signalledAt) / 1000));
  }

  /** One statement reads `changed` and unremembered ids; watchers with matching grants are judged from it, the rest re-checked. */
  async #answer(watchers: readonly Watcher[], changed: readonly string[], expired: boolean): Promise<void> {
    const needed = new Set(changed);
    // Expired watchers re-read every id: a safety net should a signal ever be lost unnoticed.
    for (const watcher of watchers)
      for (const id of watcher.ids) if (expired || !this.#versions.has(id)) needed.add(id);
    const since = this.#stamp;
    const started = ++this.#statements;
    let read;
    try {
      this.statements++;
      read = await latestVersions(this.#stream(), [...needed]);
    } catch {
      for (const watcher of watchers)
        watcher.done({ error: errors.unavailable("the change stream lost its database connection; retry") });
      return;
    }
    this.#learn(read.versions, read.authorizationVersion, started, since);
    const authorization = read.authorizationVersion;
    const stale: Watcher[] = [];
    // Followers of one workload watch the same list: its cursor is computed once per wave.
    const judgeList = judgeLists((id) => (read.versions.has(id) ? read.versions.get(id) : this.#versions.get(id)));
    for (const watcher of watchers) {
      if (watcher.finished) continue;
      if (!this.#granted(watcher, authorization)) {
        stale.push(watcher);
        continue;
      }
      const { cursor, unknown, gone } = judgeList(watcher.ids);
      if (gone)
        stale.push(watcher); // deleted or emptied: the full check names it (404)
      else if (unknown && !expired)
        continue; // signalled during the statement: it is in the next wave
      else if (unknown) stale.push(watcher);
      else if (cursor !== watcher.cursor) watcher.done({ changed: true, cursor });
      else if (expired) watcher.done({ changed: false, cursor });
    }
    await this.#recheck(stale, expired);
  }

  #granted(watcher: Watcher, authorization: string | undefined): boolean {
    if (authorization === undefined) return false;
    for (const id of watcher.ids) if (readGrants.get(watcher.roleId, id)?.version !== authorization) return false;
    return true;
  }

  /** The full check for watchers whose grants no longer match: one statement per distinct role. */
  async #recheck(watchers: readonly Watcher[], expired: boolean): Promise<void> {
    const byRole = new Map<string, Watcher[]>();
    for (const watcher of watchers) {
      if (watcher.finished) continue;
      const list = byRole.get(watcher.roleId);
      if (list) list.push(watcher);
      else byRole.set(watcher.roleId, [watcher]);
    }
    for (const [roleId, list] of byRole) {
      const ids = [...new Set(list.flatMap((w) => w.ids))];
      let rows;
      try {
        this.statements++;
        rows = await this.#check(this.#stream(), roleId, ids, this.#stamp);
      } catch {
        for (const watcher of list)
          watcher.done({ error: errors.unavailable("the change stream lost its database connection; retry") });
        continue;
      }
      for (const watcher of list) {
        const verdict = judge(rows, watcher.ids);
        if ("error" in verdict) watcher.done(verdict);
        else if (verdict.cursor !== watcher.cursor) watcher.done({ changed: true, cursor: verdict.cursor });
        else if (expired) watcher.done({ changed: false, cursor: watcher.cursor });
      }
    }
  }

  #expire(watcher: Watcher): void {
    this.#expired.push(watcher);
    this.#expiryTimer ??= setTimeout(() => {
      this.#expiryTimer = undefined;
      void this.#answerExpired();
    }, this.options.timeoutBatchMs ?? TIMEOUT_BATCH_MS);
  }

  /** Timed-out watchers, judged together: one statement for the timeouts of each batch. */
  async #answerExpired(): Promise<void> {
    const batch = this.#expired.filter((w) => !w.finished);
    this.#expired = [];
    if (batch.length === 0 || this.#closed) return;
    await this.#answer(batch, [], true);
  }
}
