/**
 * The agent's loop: ask the change stream for a cursor, fetch every variable in one batch,
 * render, write the files that changed (atomically), then wait on the change stream with
 * that cursor. The cursor is taken before the fetch, so a change in between is seen on the
 * next watch. While the server is unreachable or refuses, the last good files stay and the
 * agent retries with capped exponential backoff, jittered. Side effects (server, files, clock) are injected.
 */
import { createHash } from "node:crypto";
import type { AgentLog } from "./agent-log.js";
import { RenderError } from "../render/errors.js";
import { variableIdsOf, type FileSpec } from "../render/file-spec.js";
import { renderFile } from "../render/render-file.js";
import type { AgentMetrics } from "./agent-metrics.js";
import { ServerError } from "./server-client.js";
import { DEFAULT_FILE_MODE } from "./write-files.js";
import { backoffMs } from "../retry/backoff.js";

type WatchAnswer = { changed: boolean; cursor: string };

export interface AgentServer {
  fetchBatch(ids: readonly string[]): Promise<Map<string, Buffer>>;
  /** One long-poll: the first answer. */
  watch(ids: readonly string[], cursor: string | undefined, timeoutSeconds: number): Promise<WatchAnswer>;
  /** The stream (`stream=true`), when the server offers it: every answer, until the stream ends. */
  follow?(
    ids: readonly string[],
    cursor: string | undefined,
    timeoutSeconds: number,
    onEvent: (answer: WatchAnswer) => Promise<void>,
  ): Promise<void>;
}

export interface AgentDeps {
  server: AgentServer;
  write(name: string, content: Buffer, mode: number): Promise<void>;
  files: readonly FileSpec[];
  log: AgentLog;
  metrics: AgentMetrics;
  watchTimeoutSeconds: number;
  backoffMaxMs: number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1): the jitter of re-polls and retries (tests pin it). */
  random?: () => number;
}

/**
 * Jitter, so that a fleet started (or woken, or cut off) together does not come back
 * together: each stream (or long-poll) asks for a timeout drawn from the last quarter below the
 * configured one (30 s → 23–30 s), and each retry waits between half and all of its backoff
 * (retry/backoff.ts, the one backoff).
 */
export function jitteredTimeout(seconds: number, random: () => number): number {
  return Math.max(1, seconds - Math.floor(random() * Math.ceil(seconds / 4)));
}

export type AgentStatus = { ready: boolean; lastError: string | undefined };

const sleepFor = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });

export class Agent {
  readonly #ids: string[];
  readonly #written = new Map<string, string>();
  readonly #stop = new AbortController();
  #ready = false;
  #lastError: string | undefined;

  constructor(private readonly deps: AgentDeps) {
    this.#ids = variableIdsOf(deps.files);
  }

  status(): AgentStatus {
    return { ready: this.#ready, lastError: this.#lastError };
  }

  /** Fetch, render and write every file once. Throws ServerError or RenderError; files stay as they were on failure. */
  async syncOnce(): Promise<"written" | "unchanged"> {
    const values = await this.deps.server.fetchBatch(this.#ids);
    // Render everything before writing anything: one bad file must not leave a mixed set.
    const rendered = this.deps.files.map((spec) => ({ spec, content: renderFile(spec, values) }));
    let changed = false;
    for (const { spec, content } of rendered) {
      const digest = createHash("sha256").update(content).digest("hex");
      if (this.#written.get(spec.file) === digest) continue;
      await this.deps.write(spec.file, content, spec.mode ?? DEFAULT_FILE_MODE);
      this.#written.set(spec.file, digest);
      this.deps.metrics.filesWritten.inc();
      changed = true;
    }
    this.#ready = true;
    this.#lastError = undefined;
    this.deps.metrics.ready.set(1);
    this.deps.metrics.lastSuccess.set(Date.now() / 1000);
    this.deps.metrics.syncs.inc({ outcome: changed ? "written" : "unchanged" });
    return changed ? "written" : "unchanged";
  }

  #failed(err: unknown): void {
    const outcome =
      err instanceof RenderError ? "render_error" : err instanceof ServerError && err.denial ? "denied" : "unreachable";
    this.deps.metrics.syncs.inc({ outcome });
    this.#lastError = err instanceof Error ? err.message : String(err);
    this.deps.log.warn(
      { outcome, err: this.#lastError, ready: this.#ready },
      this.#ready ? "keeping the last good files" : "no files written yet",
    );
  }

  /** Runs until `stop()`: follows rotations through the change stream. */
  async run(): Promise<void> {
    const sleep = this.deps.sleep ?? sleepFor;
    const random = this.deps.random ?? Math.random;
    let cursor: string | undefined;
    let synced = false;
    let failures = 0;
    const handle = async (answer: WatchAnswer): Promise<void> => {
      if (this.#stop.signal.aborted) return;
      if (answer.changed || !synced) {
        try {
          const outcome = await this.syncOnce();
          if (outcome === "written") this.deps.log.info({ files: this.deps.files.length }, "files written");
        } catch (err) {
          if (!(err instanceof RenderError)) throw err;
          // A value that cannot be rendered: keep the last good files, wait for the next change.
          this.#failed(err);
        }
        synced = true;
      }
      cursor = answer.cursor;
      failures = 0;
    };
    const server = this.deps.server;
    while (!this.#stop.signal.aborted) {
      try {
        const timeout = jitteredTimeout(this.deps.watchTimeoutSeconds, random);
        // A stream that ends (its token expired or is due for renewal) is simply opened again.
        if (server.follow) await server.follow(this.#ids, synced ? cursor : undefined, timeout, handle);
        else await handle(await server.watch(this.#ids, synced ? cursor : undefined, timeout));
      } catch (err) {
        this.#failed(err);
        synced = false;
        await sleep(backoffMs(++failures, { baseMs: 250, maxMs: this.deps.backoffMaxMs }, random), this.#stop.signal);
      }
    }
  }

  stop(): void {
    this.#stop.abort();
  }
}
