/**
 * Policy parsing off the event loop. A 1 MiB document takes the `yaml` package about a
 * second to parse, so it runs in a worker thread (piscina) with a memory cap and a time
 * limit: a hostile document can cost a loader its own request, never the server's
 * health checks or other clients' reads. See docs/adr/0014-hostile-input.md.
 */
import { Piscina } from "piscina";
import { ApiError, errors } from "../errors.js";
import type { ParseOutcome } from "./parse-worker.js";
import type { Statement } from "./statements.js";

const PARSE_TIMEOUT_MS = 20_000;
const WORKER_HEAP_MB = 256;
/** Loads waiting for the parser beyond this are refused with 503 rather than queued without end. */
const MAX_QUEUED = 32;

let pool: Piscina | undefined;

function parserPool(): Piscina {
  // Under tsx (tests) the worker is the .ts source; built, it is the .js beside this file.
  const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
  pool ??= new Piscina({
    filename: new URL(`./parse-worker.${ext}`, import.meta.url).href,
    minThreads: 0,
    maxThreads: 1,
    idleTimeout: 30_000,
    maxQueue: MAX_QUEUED,
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
  });
  return pool;
}

export async function parsePolicyOffThread(text: string): Promise<Statement[]> {
  let outcome: ParseOutcome;
  try {
    outcome = (await parserPool().run(text, { signal: AbortSignal.timeout(PARSE_TIMEOUT_MS) })) as ParseOutcome;
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string };
    if (e.name === "AbortError" || e.name === "TimeoutError")
      throw errors.policyInvalid(`the policy took longer than ${PARSE_TIMEOUT_MS / 1000} s to parse`);
    if (e.code === "ERR_WORKER_OUT_OF_MEMORY")
      throw errors.policyInvalid(`the policy needs more than ${WORKER_HEAP_MB} MiB to parse`);
    if (/queue is full/i.test(e.message ?? ""))
      throw errors.unavailable("Too many policy loads are waiting; retry shortly");
    throw err;
  }
  if ("error" in outcome) throw new ApiError(outcome.error.status, outcome.error.body);
  return outcome.statements;
}

/** Stops the parser's threads (server shutdown). */
export async function closePolicyParser(): Promise<void> {
  const running = pool;
  pool = undefined;
  await running?.destroy();
}
