/**
 * The always-on audit sink: the server's pino log on stdout, one line per record marked
 * `"audit":true`. pino writes stdout synchronously, so an error it throws fails the request.
 */
import type { Logger } from "pino";
import type { AuditRecord, AuditSink } from "./audit.js";

export class LogAuditSink implements AuditSink {
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log.child({ audit: true });
  }

  write(records: readonly AuditRecord[]): Promise<void> {
    for (const { time: _time, ...event } of records) this.#log.info(event, `audit ${event.action} ${event.outcome}`);
    return Promise.resolve();
  }
}
