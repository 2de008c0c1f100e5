/**
 * The NOTIFY that follows a committed secret write (channel `strongroom_secret_changed`,
 * payload: the variable id), sent for every write that committed in one turn of the event
 * loop with ONE statement (storage/per-turn-loader.ts): a round trip to Postgres costs more
 * than the signal.
 *
 * The statement is its own transaction holding no data, so it need not wait for its commit
 * record to reach the disk (`synchronous_commit` off for it alone): it would otherwise hold
 * Postgres's notify lock through an fsync. Each secret was committed durably before. See
 * add-version.ts and docs/adr/0016-read-path.md.
 */
import type pg from "pg";
import { perTurnLoader } from "../storage/per-turn-loader.js";

export const SECRET_CHANGED_CHANNEL = "strongroom_secret_changed";

const NOTIFY_EACH =
  "SELECT pg_notify($1, id), set_config('synchronous_commit', 'off', true) FROM unnest($2::text[]) AS id";

async function notifyEach(pool: pg.Pool, ids: readonly string[]): Promise<void[]> {
  // A lost signal costs a refresh interval, not data: never fail the write that sent it.
  await pool
    .query({ name: "notify-secrets-changed", text: NOTIFY_EACH, values: [SECRET_CHANGED_CHANNEL, ids] })
    .catch(() => undefined);
  return ids.map(() => undefined);
}

const joined = perTurnLoader(notifyEach);

/** Tell every replica's controller and watchers that `resourceId` changed (after its commit). Never rejects. */
export function signalSecretChanged(pool: pg.Pool, resourceId: string): Promise<void> {
  return joined(pool).load(resourceId);
}
