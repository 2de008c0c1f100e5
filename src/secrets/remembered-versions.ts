/**
 * The change stream's memory of each followed variable's latest version (valid until the next
 * signal for it), and of the cursors those versions give: a fleet of one workload watches the
 * same id list, so re-arming 10,000 watchers hashes a handful of cursors, not 10,000. Any change
 * to a version drops every remembered cursor (they are cheap to make again).
 */
import { cursorOf } from "./watch-state.js";

export class RememberedVersions {
  readonly #versions = new Map<string, number>();
  readonly #cursors = new Map<string, string>();

  constructor(private readonly limit: number) {}

  has(id: string): boolean {
    return this.#versions.has(id);
  }

  get(id: string): number | undefined {
    return this.#versions.get(id);
  }

  set(id: string, version: number): void {
    if (this.#versions.get(id) === version) return;
    if (this.#versions.size >= this.limit) this.#versions.clear();
    this.#versions.set(id, version);
    this.#cursors.clear();
  }

  /** A signal arrived for `id`: its version is no longer known. */
  forget(id: string): void {
    if (this.#versions.delete(id)) this.#cursors.clear();
  }

  clear(): void {
    this.#versions.clear();
    this.#cursors.clear();
  }

  /** The cursor over `ids`, each of which must be remembered (see has). */
  cursor(ids: readonly string[]): string {
    // NUL never occurs in a stored id (input/limits.ts): the key of a list is unambiguous.
    const key = ids.join("\0");
    let cursor = this.#cursors.get(key);
    if (cursor === undefined) {
      if (this.#cursors.size >= this.limit) this.#cursors.clear();
      cursor = cursorOf(ids, (id) => this.#versions.get(id) ?? 0);
      this.#cursors.set(key, cursor);
    }
    return cursor;
  }
}
