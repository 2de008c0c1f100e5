/** The pino logger. Secret values are never passed to it; request bodies are never logged. */
import { pino, type Logger } from "pino";

/**
 * Wraps a destination so that the lines logged inside `batch()` reach it as one write: a
 * batch read of 100 variables is 100 audit lines, and sonic-boom measures its whole pending
 * buffer on every write (quadratic: 0.24 ms per such request). Outside `batch()` every line
 * is handed on at once, unchanged; an error the destination throws reaches the caller.
 */
export class BatchingDestination implements pino.DestinationStream {
  #pending: string[] | undefined;
  /** Lines that may wait (the request log): they go out with the next write, or after this turn of the event loop. */
  #later = "";
  #laterScheduled = false;

  constructor(private readonly target: pino.DestinationStream) {}

  write(line: string): void {
    if (this.#pending) this.#pending.push(line);
    else this.#hand(line);
  }

  /**
   * A line that need not be written before the caller goes on: it joins the next write
   * (an audit record, which must be written before its answer, carries it for free) or is
   * written once the current turn of the event loop is over. Order is kept: a later line
   * never overtakes it. One write() per request instead of two on the read path.
   */
  writeLater(line: string): void {
    this.#later += line;
    if (this.#laterScheduled) return;
    this.#laterScheduled = true;
    setImmediate(() => {
      this.#laterScheduled = false;
      try {
        if (this.#later) this.#hand("");
      } catch {
        // Request-log lines only: dropped rather than crash. An audit write to the same
        // destination fails on its own, and its request fails closed.
      }
    });
  }

  batch(log: () => void): void {
    if (this.#pending) return log();
    const lines: string[] = (this.#pending = []);
    try {
      log();
    } finally {
      this.#pending = undefined;
    }
    if (lines.length > 0) this.#hand(lines.join(""));
  }

  flushSync(): void {
    if (this.#later) this.#hand("");
    (this.target as { flushSync?: () => void }).flushSync?.();
  }

  #hand(text: string): void {
    const later = this.#later;
    this.#later = "";
    this.target.write(later + text);
  }
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  // pino's own default: sonic-boom on stdout, asynchronous (lines logged during a write join the next one).
  const target = destination ?? pino.destination({ dest: process.stdout.fd || 1 });
  return pino(
    { level, base: { service: "strongroom" }, redact: ["req.headers.authorization", "headers.authorization"] },
    new BatchingDestination(target),
  );
}

/** Runs `log` (calls on `logger` or its children) so that its lines reach the destination in one write when it can batch. */
export function logInOneWrite(logger: Logger, log: () => void): void {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
  if (stream instanceof BatchingDestination) stream.batch(log);
  else log();
}

export type { Logger };

/** The logger's bindings as JSON members (`"service":"strongroom",`), computed once per logger. */
const bindingsText = new WeakMap<Logger, string>();

/**
 * Logs an info line built by the caller (`fields`: JSON members, e.g. `"a":1,"b":"x"`,
 * already escaped) in pino's own shape, without pino's per-call machinery, to be written
 * with the next write (see `BatchingDestination.writeLater`). For the per-request log line.
 */
export function logInfoLater(logger: Logger, fields: string, msg: string): void {
  if (!logger.isLevelEnabled("info")) return;
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
  if (!(stream instanceof BatchingDestination)) {
    logger.info(JSON.parse(`{${fields}}`) as object, msg);
    return;
  }
  let bindings = bindingsText.get(logger);
  if (bindings === undefined) {
    const text = JSON.stringify(logger.bindings()).slice(1, -1);
    bindingsText.set(logger, (bindings = text ? `${text},` : ""));
  }
  stream.writeLater(`{"level":30,"time":${Date.now()},${bindings}${fields},"msg":${JSON.stringify(msg)}}\n`);
}
