/**
 * Audit events: one structured log line per secret read/write and per authentication
 * attempt, success or failure. Who, what, outcome; never a value.
 */
import type { Logger } from "pino";

export interface AuditEvent {
  action: "authenticate" | "login" | "rotate-api-key" | "set-password" | "read-secret" | "write-secret" | "load-policy";
  role: string | undefined;
  resource?: string | string[];
  outcome: "success" | "failure";
  reason?: string;
  requestId?: string;
}

export class Audit {
  readonly #log: Logger;
  constructor(log: Logger) {
    this.#log = log.child({ audit: true });
  }
  record(event: AuditEvent): void {
    this.#log.info(event, `audit ${event.action} ${event.outcome}`);
  }

  /** Runs `work` and records its outcome: success, or failure with the error's message. */
  async around<T>(event: Omit<AuditEvent, "outcome" | "reason">, work: () => Promise<T>): Promise<T> {
    try {
      const result = await work();
      this.record({ ...event, outcome: "success" });
      return result;
    } catch (err) {
      this.record({ ...event, outcome: "failure", reason: (err as Error).message });
      throw err;
    }
  }
}
