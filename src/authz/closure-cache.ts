/**
 * Role closures, cached per role in process and checked on every use.
 *
 * Computing a role's transitive memberships is a recursive query that Postgres re-plans on
 * every execution; caching the answer turns the hot read query into plain index lookups
 * with a generic plan. A cached closure is only used together with the authorization
 * version it was computed under (table `authorization_version`, changed in the same
 * transaction as any change to memberships, permissions, resources or annotations): the
 * query that uses it returns the version it saw, and a different one means the closure may
 * be stale, so it is recomputed and the query re-run. A revoked membership therefore takes
 * effect for the very next statement after its commit, on every replica, with no
 * invalidation message. See docs/adr/0016-read-path.md and 0020-read-decisions.md.
 */
import { CLOSURE_CTE } from "./permissions.js";
import { errors } from "../errors.js";
import type { Queryable } from "../storage/database.js";
import { LRUCache } from "lru-cache";

export interface Closure {
  roles: string[];
  version: string;
}

/** Rows of a query that used a closure: each says which authorization version it saw. */
export interface Versioned {
  authorization_version: string;
}

/** SQL for a query's select list: the version its snapshot sees (an InitPlan, evaluated once). */
export const AUTHORIZATION_VERSION =
  "(SELECT version::text FROM authorization_version WHERE id = 1) AS authorization_version";

/** Closures cached, per role; the least recently used go first. */
const CACHE_LIMIT = 10_000;
/** A closure recomputed this many times in a row and still stale is a storm of membership changes. */
const ATTEMPTS = 4;

export class RoleClosures {
  readonly #cache = new LRUCache<string, Closure>({ max: CACHE_LIMIT });

  /** The closure of `roleId` and the version it is exact for, computed in one statement. */
  async compute(db: Queryable, roleId: string): Promise<Closure> {
    const { rows } = await db.query<{ roles: string[]; version: string }>({
      name: "role-closure",
      text: `WITH RECURSIVE ${CLOSURE_CTE}
        SELECT (SELECT array_agg(role_id) FROM closure) AS roles, (SELECT version::text FROM authorization_version WHERE id = 1) AS version`,
      values: [roleId],
    });
    const closure = { roles: rows[0]!.roles, version: rows[0]!.version };
    this.#cache.set(roleId, closure);
    return closure;
  }

  /**
   * Runs `query` with `roleId`'s closure; the rows are those of a snapshot for which that
   * closure is exact. Contract: the closure may appear only in the select list, never in
   * what decides which rows come back, so an empty answer depended on no closure and needs
   * no check (the secrets read: one row per existing requested id, whoever asks).
   */
  async withClosure<R extends Versioned>(
    db: Queryable,
    roleId: string,
    query: (roles: string[]) => Promise<R[]>,
  ): Promise<R[]> {
    let closure = this.#cache.get(roleId) ?? (await this.compute(db, roleId));
    for (let attempt = 1; ; attempt++) {
      const rows = await query(closure.roles);
      if (rows.length === 0 || rows[0]!.authorization_version === closure.version) return rows;
      if (attempt === ATTEMPTS) throw errors.unavailable("Role memberships are changing too fast to answer; retry");
      closure = await this.compute(db, roleId);
    }
  }

  /** Forget everything (tests; a process that wants to start cold). */
  clear(): void {
    this.#cache.clear();
  }
}

/**
 * One per process: entries are only ever used after checking them against the database
 * they are used on (versions are random, so two databases never share one), so servers on
 * different databases in one process (tests) can share it safely.
 */
export const roleClosures = new RoleClosures();
