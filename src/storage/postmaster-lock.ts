/**
 * A Postgres left behind by an earlier run of our data dir. `kill -9` of the server kills
 * node alone: its embedded Postgres keeps running as an orphan, holding
 * `<data-dir>/pg/postmaster.pid`, and every later start would fail on that lock. Before
 * starting, we read the lock, look at the process it names, and:
 * - no lock, or its process is gone: nothing to do (Postgres reclaims a dead lock itself);
 * - the pid now belongs to some other program (pids are reused): the lock is stale, remove it;
 * - a postmaster of our data dir whose Strongroom is gone: stop it (fast shutdown), then start;
 * - a postmaster of our data dir still run by a live Strongroom: refuse, never steal it.
 * Anything we cannot tell or do ends in a one-line message saying what to do.
 */
import { readFileSync, realpathSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { FatalStartupError } from "../errors.js";

/** What we need to know about processes; Linux /proc by default, fakes in unit tests. */
export interface ProcessTable {
  alive(pid: number): boolean;
  /** argv of a process, or undefined when it cannot be read (gone, or no /proc). */
  cmdline(pid: number): string[] | undefined;
  parent(pid: number): number | undefined;
  /** Throws like process.kill (EPERM, ESRCH). */
  signal(pid: number, signal: NodeJS.Signals): void;
}

export type LockState =
  | { kind: "none" }
  | { kind: "dead"; pid: number }
  | { kind: "reused"; pid: number }
  | { kind: "unknown"; pid: number }
  | { kind: "orphan"; pid: number }
  | { kind: "in-use"; pid: number; ownerPid: number };

export const linuxProcesses: ProcessTable = {
  alive(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "EPERM";
    }
  },
  cmdline(pid) {
    try {
      const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      return raw ? raw.replace(/\0$/, "").split("\0") : undefined;
    } catch {
      return undefined;
    }
  },
  parent(pid) {
    try {
      const m = /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  },
  signal(pid, signal) {
    process.kill(pid, signal);
  },
};

const samePath = (a: string, b: string): boolean => {
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  return real(a) === real(b);
};

/** Is `argv` a postmaster started with `-D databaseDir`? */
function isPostmasterOf(argv: string[], databaseDir: string): boolean {
  if (!/^postgres(\.exe)?$/.test(basename(argv[0] ?? ""))) return false;
  const d = argv.indexOf("-D");
  return d >= 0 && argv[d + 1] !== undefined && samePath(argv[d + 1]!, databaseDir);
}

/** A live parent that is node or strongroom is a running server; init or a subreaper is not. */
function isStrongroom(argv: string[] | undefined): boolean {
  if (!argv) return false;
  return /^node/.test(basename(argv[0] ?? "")) || argv.some((arg) => /(^|\/)strongroom$|cli\/main\.[jt]s$/.test(arg));
}

export function lockFile(databaseDir: string): string {
  return join(databaseDir, "postmaster.pid");
}

export function inspectPostmasterLock(databaseDir: string, proc: ProcessTable = linuxProcesses): LockState {
  let text: string;
  try {
    text = readFileSync(lockFile(databaseDir), "utf8");
  } catch {
    return { kind: "none" };
  }
  const pid = Number(text.split("\n")[0]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return { kind: "dead", pid: 0 }; // a torn file: Postgres rewrites it
  if (!proc.alive(pid)) return { kind: "dead", pid };
  const argv = proc.cmdline(pid);
  if (!argv) return { kind: "unknown", pid };
  if (!isPostmasterOf(argv, databaseDir)) return { kind: "reused", pid };
  const ownerPid = proc.parent(pid);
  // In a container the server itself is PID 1 (the image's entrypoint), so PID 1 counts too:
  // an orphan reparented to a host's init or a container's tini fails isStrongroom.
  if (ownerPid !== undefined && ownerPid >= 1 && isStrongroom(proc.cmdline(ownerPid)))
    return { kind: "in-use", pid, ownerPid };
  return { kind: "orphan", pid };
}

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

async function waitForExit(pid: number, proc: ProcessTable, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (proc.alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

export interface RecoverOptions {
  proc?: ProcessTable;
  /** How long a fast shutdown may take before an immediate one. */
  shutdownWaitMs?: number;
  warn?: (message: string, details: Record<string, unknown>) => void;
}

/** Make `databaseDir` startable, or throw a FatalStartupError saying what to do. */
export async function recoverPostmasterLock(databaseDir: string, opts: RecoverOptions = {}): Promise<LockState> {
  const proc = opts.proc ?? linuxProcesses;
  const warn = opts.warn ?? (() => undefined);
  const state = inspectPostmasterLock(databaseDir, proc);
  const stopIt = `stop it (kill ${"pid" in state ? state.pid : ""}) and start again`;
  switch (state.kind) {
    case "none":
    case "dead":
      return state;
    case "reused":
      warn("removing a stale embedded PostgreSQL lock file: its PID now belongs to another program", {
        pid: state.pid,
      });
      rmSync(lockFile(databaseDir), { force: true });
      return state;
    case "unknown":
      throw new FatalStartupError(
        `embedded PostgreSQL lock ${lockFile(databaseDir)} names PID ${state.pid}, which is running; if it is a PostgreSQL left by an earlier run, ${stopIt}`,
      );
    case "in-use":
      throw new FatalStartupError(
        `data dir ${databaseDir} is in use by another running strongroom (PID ${state.ownerPid}); stop that one first or use another --data-dir`,
      );
    case "orphan":
      warn("stopping the embedded PostgreSQL left running by an earlier run of this data dir", { pid: state.pid });
      for (const [signal, waitMs] of [
        ["SIGINT", opts.shutdownWaitMs ?? 30_000],
        ["SIGQUIT", 10_000],
      ] as const) {
        try {
          proc.signal(state.pid, signal);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ESRCH") return state;
          throw new FatalStartupError(
            `embedded PostgreSQL PID ${state.pid}, left running by an earlier run of ${databaseDir}, cannot be stopped by this user; ${stopIt}`,
          );
        }
        if (await waitForExit(state.pid, proc, waitMs)) return state;
      }
      throw new FatalStartupError(
        `embedded PostgreSQL PID ${state.pid}, left running by an earlier run of ${databaseDir}, did not stop; ${stopIt}`,
      );
  }
}
