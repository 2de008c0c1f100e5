/** The change stream's shapes: a watcher as the hub holds it, and what it is answered. */
import type { ApiError } from "../errors.js";
import type { Db, WatchRow } from "./watch-state.js";

export type WatchAnswer = { changed: boolean; cursor: string };
export type Outcome = WatchAnswer | { error: ApiError } | "aborted";

export interface Watcher {
  readonly roleId: string;
  readonly ids: readonly string[];
  /** The cursor the watcher holds: a stream's moves with each event. */
  cursor: string;
  finished: boolean;
  /** An answer; a stream (see Follow) is told a change or a heartbeat and keeps following. */
  done(outcome: Outcome): void;
}

/**
 * A watch that stays after its answers (`GET /secrets/watch?stream=true`): each answer a
 * long-poll would end with is passed to `onEvent` instead, and the watcher keeps following
 * from its new cursor, with no request, parse or authentication per answer. It ends (the
 * watch's promise settles) on an error (403/404 after a re-check), on "aborted", or with the
 * first answer at or after `untilMs` (epoch ms: the caller's token expires then).
 */
export interface Follow {
  onEvent(answer: WatchAnswer): void;
  untilMs: number;
  /** The watch is held (its first check passed): a stream's response can begin. */
  onArmed?(): void;
}

export class WatchHubFullError extends Error {}

export interface WatchHubOptions {
  /** Timeouts are answered in batches this far apart (default 1,000 ms; one statement each). */
  timeoutBatchMs?: number;
  /** Tests: the stream's statements run here instead of a connection of its own. */
  db?: Db;
  /** After each wave: how many followers it judged, and seconds from its first signal to every answer written. */
  onWave?: (followers: number, seconds: number) => void;
}

/** The first checks of one turn for one role, joined into one statement (WatchHub.#checkJoined). */
export interface JoinedCheck {
  ids: Set<string>;
  since: number;
  waiters: { resolve(rows: Map<string, WatchRow>): void; reject(err: unknown): void }[];
}

/**
 * The caller went away (its connection closed before the answer). A plain object, not an
 * AbortSignal: an EventTarget per held watch, and its listener bookkeeping, showed in a
 * 10,000-follower wave's profile; the hub needs one flag and one callback.
 */
export interface ClientGone {
  readonly gone: boolean;
  /** Set by the hub while the watch waits; called once by the owner when the client goes. */
  onGone: (() => void) | undefined;
}
