/**
 * Grants, cached per (role, resource) in process and checked on every use: "role R may
 * read variable V (whose mime type is M)" and "role R may update variable V".
 *
 * A grant depends only on memberships, ownership, permissions and annotations, all of
 * which change the authorization version (table `authorization_version`) in the same
 * transaction. A grant is remembered with the version its own statement saw; a later
 * request runs a statement that does its work and reads the version *its* snapshot sees,
 * and relies on the grant only if the two are equal — then the grant is exactly what the
 * full check would answer in that snapshot. Any other answer (a different version, no row)
 * falls back to the full check, which decides afresh. So a revoked permission applies to
 * the very next statement after its commit, on every replica, with no invalidation
 * message. Only grants are cached: a refusal always takes the full check.
 * See docs/adr/0020-read-decisions.md.
 */

export interface Grant {
  /** The authorization version the grant was decided under. */
  version: string;
  /** Reads: the variable's `conjur/mime_type` annotation under that version. */
  mimeType: string | null;
}

/** Grants beyond this many are dropped all at once (as the token and closure caches are). */
const CACHE_LIMIT = 100_000;

export class CachedGrants {
  /** role → variable → decision: no key is built per lookup (a batch of 100 looks up 100). */
  readonly #byRole = new Map<string, Map<string, Grant>>();
  #size = 0;

  get(roleId: string, resourceId: string): Grant | undefined {
    return this.#byRole.get(roleId)?.get(resourceId);
  }

  /** Remember that `roleId` may read `resourceId` under `decision.version`. */
  grant(roleId: string, resourceId: string, decision: Grant): void {
    if (this.#size >= CACHE_LIMIT) this.clear();
    let decisions = this.#byRole.get(roleId);
    if (!decisions) this.#byRole.set(roleId, (decisions = new Map()));
    if (!decisions.has(resourceId)) this.#size++;
    decisions.set(resourceId, decision);
  }

  /** Drop a decision the full check no longer grants. */
  forget(roleId: string, resourceId: string): void {
    if (this.#byRole.get(roleId)?.delete(resourceId)) this.#size--;
  }

  get size(): number {
    return this.#size;
  }

  /** Forget everything (tests; a process that wants to start cold). */
  clear(): void {
    this.#byRole.clear();
    this.#size = 0;
  }
}

/**
 * One of each per process, like `roleClosures`: an entry is only ever used after its
 * version is compared with the version read from the database it is used on (versions are
 * random UUIDs), so servers on different databases in one process share them safely.
 */
export const readGrants = new CachedGrants();
/** `update` on a variable (writing a new version). */
export const updateGrants = new CachedGrants();
