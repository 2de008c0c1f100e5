/**
 * What a database error means for the client. PostgreSQL reports a value it cannot take
 * (a NUL in text, a number out of range, an index entry too large) with SQLSTATE class 22
 * or 54: that is the client's input, answered 422, never 500. An unreachable or restarting
 * database, a timeout or a full pool is "unavailable", answered 503 so clients retry.
 * Anything else is ours: a 500 that leaks nothing.
 */
export type DatabaseErrorClass = "client-input" | "unavailable";

const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300", "53400", "57014", "58000", "58030"]);
const UNAVAILABLE_ERRNOS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
/** What `pg` throws (without a code) when the socket dies or a client-side timeout fires. */
const UNAVAILABLE_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /query read timeout/i,
  /connection timeout/i,
  /client has encountered a connection error/i,
  /cannot use a pool after calling end/i,
  /client was closed and is not queryable/i,
];

export function classifyDatabaseError(err: unknown): DatabaseErrorClass | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === "string") {
    if (code.startsWith("22") || code === "54000" || code === "54001") return "client-input";
    if (code.startsWith("08") || UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code)) return "unavailable";
  }
  if (typeof message === "string" && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message)))
    return "unavailable";
  return undefined;
}
