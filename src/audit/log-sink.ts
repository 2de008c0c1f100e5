/**
 * The always-on audit sink: the server's pino log on stdout, one line per record marked
 * `"audit":true`. An error the destination throws fails the request. The lines of one call
 * (a batch read's n records) go to the destination as one write.
 *
 * The lines are pino's own shape (level, time, the logger's bindings, the record, msg), but
 * serialised here: going through pino's per-call machinery cost ~1.7 µs per record, and one
 * JSON.stringify of each whole record ~1 µs, most of a 100-variable batch's overhead over
 * the floor. A record's fields are the AuditEvent's; none of them is ever a secret value.
 */
import { pino, type Logger } from "pino";
import type { AuditRecord, AuditSink } from "./audit.js";

const INFO = 30;

export class LogAuditSink implements AuditSink {
  readonly #log: Logger;
  readonly #destination: pino.DestinationStream;
  /** `"service":"strongroom","audit":true,` — the logger's bindings, serialised once. */
  readonly #bindings: string;

  constructor(log: Logger) {
    this.#log = log.child({ audit: true });
    this.#destination = (this.#log as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym]!;
    const bindings = JSON.stringify(this.#log.bindings()).slice(1, -1);
    this.#bindings = bindings ? `${bindings},` : "";
  }

  write(records: readonly AuditRecord[]): Promise<void> {
    if (!this.#log.isLevelEnabled("info")) return Promise.resolve();
    const time = Date.now();
    let lines = "";
    // The records of one call share their request (action, role, request id, address):
    // that part of the line is serialised once; only resource, outcome and reason vary.
    // Action and outcome are words of our own (AuditAction, "success" | "failure"): no escaping.
    let shared: AuditRecord | undefined;
    let head = "";
    for (const record of records) {
      if (!shared || !sameRequest(shared, record)) {
        shared = record;
        head = `{"level":${INFO},"time":${time},${this.#bindings}"action":${json(record.action)}${member("role", record.role)}${member("requestId", record.requestId)}${member("clientIp", record.clientIp)}`;
      }
      lines += `${head}${member("resource", record.resource)},"outcome":${json(record.outcome)}${member("reason", record.reason)},"msg":"audit ${record.action} ${record.outcome}"}\n`;
    }
    this.#destination.write(lines);
    return Promise.resolve();
  }
}

const json = (value: string): string => JSON.stringify(value);
/** `,"name":value`, or nothing when the value is undefined (as JSON.stringify omits it). */
const member = (name: string, value: string | undefined): string =>
  value === undefined ? "" : `,"${name}":${JSON.stringify(value)}`;
const sameRequest = (a: AuditRecord, b: AuditRecord): boolean =>
  a.action === b.action && a.role === b.role && a.requestId === b.requestId && a.clientIp === b.clientIp;
