/**
 * The bounds on everything a client can send, in one place (documented in the README's
 * Security section). Every string that can reach SQL passes `checkStorable` first:
 * PostgreSQL cannot store a NUL in `text`, and a btree entry must fit a page (~2.7 kB),
 * so an unchecked id would turn a client's bytes into a 500.
 */
import { ApiError, errors } from "../errors.js";

export const LIMITS = Object.freeze({
  /** An account name. */
  accountBytes: 128,
  /** The identifier part of a role or resource id (`kind:identifier`); full ids stay well under a btree page. */
  identifierBytes: 1024,
  /** Kinds and privileges (`variable`, `execute`, …). */
  wordBytes: 64,
  annotationNameBytes: 256,
  annotationValueBytes: 64 * 1024,
  /** Ids in one batch read (`GET /secrets`) or one watch. */
  batchIds: 1_000,
  /**
   * The request line and headers together (Node's `maxHeaderSize`; its default, 16 KiB, would
   * refuse a batch of 1,000 ids with 431 before our own bound could speak). 1,000 ids at up
   * to 256 percent-encoded bytes each: a Conjur client's 1,000 typical ids are about 58 KB.
   * Longer batches fit `POST /secrets` with a form body (up to `--body-limit`).
   */
  requestHeaderBytes: 256 * 1024,
  /**
   * Connections the kernel queues before the server accepts them (capped by net.core.somaxconn).
   * Node's 511 dropped SYNs when thousands of agents reconnected at once, and each dropped
   * connection retried 1, 3, 7… s later (bench/README.md, agents).
   */
  listenBacklog: 4096,
  /** Query parameters in one request. */
  queryParameters: 64,
  /** `offset`, `limit`, `version` and other query numbers. */
  queryNumber: 1_000_000_000,
  /**
   * Policy documents: YAML nodes visited (aliases count each time they are followed), nesting.
   * Every record or statement is at least one node, so the node bound is also the bound on
   * statements (no separate cap: Conjur has none, and a 20,000-variable policy is 410 KB).
   */
  policyNodes: 200_000,
  policyDepth: 32,
});

/** Why `value` cannot be stored, or undefined when it can. */
export function storableProblem(value: string, maxBytes: number): string | undefined {
  if (value.includes("\0")) return "may not contain NUL bytes";
  // Byte length only matters near the bound; a cheap character test first (a char is ≤ 3 bytes in UTF-8).
  if (value.length * 3 > maxBytes && Buffer.byteLength(value, "utf8") > maxBytes)
    return `is longer than ${maxBytes} bytes`;
  return undefined;
}

/** Throws a 422 naming the field when `value` cannot be stored. */
export function checkStorable(
  field: string,
  value: string,
  maxBytes: number,
  toError: (message: string) => ApiError = (m) => errors.argument(`${field} ${m}`),
): string {
  const problem = storableProblem(value, maxBytes);
  if (problem) throw toError(problem);
  return value;
}

/** A query number: digits only, within 0..max; 422 otherwise (never a bigint overflow in SQL). */
export function boundedInteger(raw: string, min: number, max = LIMITS.queryNumber): number | undefined {
  if (!/^\d{1,10}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}
