/**
 * Runs in a worker thread (see parse-off-thread.ts): parses one policy document and hands
 * back plain data — the statements, or the catalog error the parser raised.
 */
import { ApiError } from "../errors.js";
import { parsePolicy } from "./parse.js";
import type { Statement } from "./statements.js";

export type ParseOutcome = { statements: Statement[] } | { error: { status: number; body: ApiError["body"] } };

export default function parseInWorker(text: string): ParseOutcome {
  try {
    return { statements: parsePolicy(text) };
  } catch (err) {
    if (err instanceof ApiError) return { error: { status: err.status, body: err.body } };
    throw err;
  }
}
