/**
 * Audit records: one per secret read or write (a batch of n variables is n records), per
 * authentication attempt, key rotation, password change and policy load — success, denial
 * or failure. Who, what, from where, outcome; never a value, API key or token.
 *
 * Audit fails closed (as Vault's audit devices do): `record` resolves only once every sink
 * has accepted the lines (a file sink: the write() has returned), and rejects with a 503
 * when one cannot. Callers await it before answering, so a request whose audit record
 * cannot be written fails and returns no value.
 */
import { ApiError, errors } from "../errors.js";

export type AuditAction =
  | "authenticate"
  | "login"
  | "rotate-api-key"
  | "set-password"
  | "configure-authenticator"
  | "read-secret"
  | "write-secret"
  | "clear-expirations"
  | "load-policy";

export interface AuditEvent {
  action: AuditAction;
  /** The role acting (for authentication: the role claimed). */
  role: string | undefined;
  /** The one resource acted on (a variable id, a policy id). */
  resource?: string;
  outcome: "success" | "failure";
  /** Why it failed: a status and code (`403 forbidden`), never request data. */
  reason?: string;
  requestId?: string;
  clientIp?: string | undefined;
}

/** What a sink receives: the event with its time. */
export type AuditRecord = AuditEvent & { time: string };

/** Where records go. `write` resolves once the records are handed over, rejects if they cannot be. */
export interface AuditSink {
  write(records: readonly AuditRecord[]): Promise<void>;
  close?(): Promise<void>;
}

export type AuditContext = Omit<AuditEvent, "outcome" | "reason">;

const UNAVAILABLE_MESSAGE = "The audit log cannot be written; the request was refused";

/** The error a request fails with when its audit record cannot be written. */
export const auditUnavailable = (): ApiError => errors.unavailable(UNAVAILABLE_MESSAGE);
export const isAuditUnavailable = (err: unknown): boolean =>
  err instanceof ApiError && err.status === 503 && err.message === UNAVAILABLE_MESSAGE;

/** A failure reason safe to record: status and code for catalog errors, nothing else. */
export function reasonOf(err: unknown): string {
  if (err instanceof ApiError) return `${err.status} ${err.body?.error.code ?? statusName(err.status)}`;
  return "error";
}

function statusName(status: number): string {
  return { 401: "unauthorized", 403: "forbidden", 404: "not_found" }[status] ?? "error";
}

export class Audit {
  readonly #sinks: readonly AuditSink[];
  readonly #onSinkError: (err: unknown) => void;

  constructor(sinks: readonly AuditSink[], onSinkError: (err: unknown) => void = () => {}) {
    this.#sinks = sinks;
    this.#onSinkError = onSinkError;
  }

  /** Write the events (one line each) to every sink; throws the 503 of `auditUnavailable` if any sink fails. */
  async record(...events: AuditEvent[]): Promise<void> {
    const time = new Date().toISOString();
    await this.#write(events.map((e) => ({ time, ...e })));
  }

  async #write(records: AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      await Promise.all(this.#sinks.map((sink) => sink.write(records)));
    } catch (err) {
      this.#onSinkError(err);
      throw auditUnavailable();
    }
  }

  /** One record per resource (a batch of n variables is n lines, one write): success when its reason is undefined. */
  async recordEach(context: AuditContext, outcomes: Iterable<readonly [string, string | undefined]>): Promise<void> {
    const time = new Date().toISOString();
    const records: AuditRecord[] = [];
    for (const [resource, reason] of outcomes) {
      records.push(
        reason === undefined
          ? { time, ...context, resource, outcome: "success" }
          : { time, ...context, resource, outcome: "failure", reason },
      );
    }
    await this.#write(records);
  }

  /** Runs `work` and records its outcome; a success is answered only once its record is written. */
  async around<T>(context: AuditContext, work: () => Promise<T>): Promise<T> {
    return this.aroundCommit(context, () => work());
  }

  /**
   * For changes: `work` gets `commit`, to await inside its transaction just before it
   * commits, so a change whose record cannot be written rolls back. When `work` never
   * calls it (nothing changed), the success is recorded afterwards.
   */
  async aroundCommit<T>(context: AuditContext, work: (commit: () => Promise<void>) => Promise<T>): Promise<T> {
    let recorded = false;
    const commit = async (): Promise<void> => {
      await this.record({ ...context, outcome: "success" });
      recorded = true;
    };
    let result: T;
    try {
      result = await work(commit);
    } catch (err) {
      if (!isAuditUnavailable(err)) await this.record({ ...context, outcome: "failure", reason: reasonOf(err) });
      throw err;
    }
    if (!recorded) await commit();
    return result;
  }

  async close(): Promise<void> {
    for (const sink of this.#sinks) await sink.close?.();
  }
}
