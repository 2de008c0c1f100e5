/** The real `strongroom server` command as a child process, as an operator runs it. */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";

export const CLI = join(import.meta.dirname, "../../dist/cli/main.js");

export interface CliServer {
  child: ChildProcessWithoutNullStreams;
  port: number;
  /** Everything written to stdout so far (pino JSON lines, the admin key line). */
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: node alone dies, as with the OOM killer or `kill -9`. */
  kill(): Promise<void>;
  /** The first match of `pattern` in stdout, waiting for it (the admin key follows the listening line). */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
}

export async function startCliServer(args: string[], env: Record<string, string> = {}): Promise<CliServer> {
  const child = spawn(process.execPath, [CLI, "server", "--port", "0", "--host", "127.0.0.1", ...args], {
    env: { ...process.env, STRONGROOM_DATA_KEY: "", DATABASE_URL: "", ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const port = await new Promise<number>((ok, fail) => {
    child.once("exit", (code) => fail(new Error(`server exited ${code}: ${stderr.trim()}`)));
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
      const m = /"port":(\d+)/.exec(stdout);
      if (m) ok(Number(m[1]));
    });
  });
  child.removeAllListeners("exit");
  const exited = new Promise<number | null>((ok) => child.once("exit", (code) => ok(code)));
  return {
    child,
    port,
    output: () => stdout,
    stop: () => {
      child.kill("SIGTERM");
      return exited;
    },
    kill: async () => {
      child.kill("SIGKILL");
      await exited;
    },
    waitFor: async (pattern, ms = 10_000) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const match = pattern.exec(stdout);
        if (match) return match;
        if (Date.now() > deadline) throw new Error(`no ${pattern} in the server's output within ${ms} ms`);
        await new Promise((ok) => setTimeout(ok, 50));
      }
    },
  };
}

/** Run a server start that is expected to fail; its exit code and stderr. */
export function failedStart(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, "server", "--port", "0", "--host", "127.0.0.1", ...args], {
    env: { ...process.env, STRONGROOM_DATA_KEY: "", DATABASE_URL: "", ...env },
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  child.stdout.resume();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((ok) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      ok({ code, stderr });
    }),
  );
}
