/**
 * One held watch as the hub keeps it: its timer, and what each answer does. A long-poll's
 * first answer ends it; a stream (`Follow`) is told each change or heartbeat and keeps
 * following from the new cursor until an error, "aborted", or its end (the token's expiry).
 */
import type { Follow, Outcome, WatchAnswer, Watcher } from "./watch-types.js";

export function newWatcher(
  held: { roleId: string; ids: readonly string[]; cursor: string; timeoutMs: number; follow?: Follow },
  hub: { expire(watcher: Watcher): void; release(watcher: Watcher): void },
  settle: { resolve(answer: WatchAnswer | "aborted"): void; reject(error: unknown): void },
): Watcher {
  const { follow, timeoutMs } = held;
  // A stream's heartbeat comes every timeoutMs, and never later than its end.
  const wait = (): number => (follow ? Math.max(0, Math.min(timeoutMs, follow.untilMs - Date.now())) : timeoutMs);
  const keepsFollowing = (outcome: Outcome): outcome is WatchAnswer =>
    follow !== undefined && typeof outcome === "object" && "cursor" in outcome && Date.now() < follow.untilMs;
  const watcher: Watcher = {
    roleId: held.roleId,
    ids: held.ids,
    cursor: held.cursor,
    finished: false,
    done(outcome) {
      if (watcher.finished) return;
      if (keepsFollowing(outcome)) {
        watcher.cursor = outcome.cursor;
        // The next heartbeat counts from this answer; refresh() re-arms without a new timer.
        const next = wait();
        if (next === timeoutMs) timer.refresh();
        else {
          clearTimeout(timer);
          timer = setTimeout(() => hub.expire(watcher), next);
        }
        follow!.onEvent(outcome);
        return;
      }
      clearTimeout(timer);
      watcher.finished = true;
      hub.release(watcher);
      if (typeof outcome === "object" && "error" in outcome) settle.reject(outcome.error);
      else settle.resolve(outcome);
    },
  };
  let timer = setTimeout(() => hub.expire(watcher), wait());
  return watcher;
}
