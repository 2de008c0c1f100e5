/**
 * The agent's logger: pino's JSON line format (`level`, `time`, `pid`, `hostname`, `msg`,
 * fields) without pino, so the agent's import graph stays small (bench/README.md, agents).
 * Synchronous writes to stderr: the agent logs a few lines per rotation.
 */
import { hostname } from "node:os";

export interface AgentLog {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;

export function agentLog(
  level: string,
  write: (line: string) => void = (line) => process.stderr.write(line),
): AgentLog {
  const threshold = (LEVELS as Record<string, number>)[level] ?? LEVELS.info;
  const base = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())}`;
  const at =
    (n: number) =>
    (fields: object, message?: string): void => {
      if (n < threshold) return;
      const rest = JSON.stringify(fields);
      const extra = rest.length > 2 ? `,${rest.slice(1, -1)}` : "";
      write(
        `{"level":${n},"time":${Date.now()}${base}${extra}${message === undefined ? "" : `,"msg":${JSON.stringify(message)}`}}\n`,
      );
    };
  return { debug: at(LEVELS.debug), info: at(LEVELS.info), warn: at(LEVELS.warn), error: at(LEVELS.error) };
}
