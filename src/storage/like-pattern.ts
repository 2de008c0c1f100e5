/**
 * SQL LIKE patterns from values a client chose: `%`, `_` and the escape character itself match
 * literally (Postgres's default escape is the backslash), so a search or a policy scope never
 * becomes a wildcard the client did not mean.
 */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
