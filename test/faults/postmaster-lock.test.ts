import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspectPostmasterLock, recoverPostmasterLock, type ProcessTable } from "../../src/storage/postmaster-lock.js";

/** A fake process table: pid → argv and parent. */
function table(processes: Record<number, { argv: string[]; parent: number }>, signals: string[] = []): ProcessTable {
  return {
    alive: (pid) => pid in processes,
    cmdline: (pid) => processes[pid]?.argv,
    parent: (pid) => processes[pid]?.parent,
    signal: (pid, signal) => {
      signals.push(`${signal} ${pid}`);
      if (signal === "SIGINT") delete processes[pid];
    },
  };
}

describe("the embedded Postgres lock file", () => {
  let root: string;
  let pgDir: string;
  const POSTGRES = "/opt/pg/bin/postgres";
  const lockFor = (pid: number): void =>
    writeFileSync(join(pgDir, "postmaster.pid"), `${pid}\n${pgDir}\n1700000000\n40000\n`);

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "strongroom-lock-"));
    pgDir = join(root, "pg");
    mkdirSync(pgDir);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("is absent, or names a process that is gone: nothing to do", () => {
    expect(inspectPostmasterLock(pgDir, table({}))).to.deep.equal({ kind: "none" });
    lockFor(4242);
    expect(inspectPostmasterLock(pgDir, table({}))).to.deep.equal({ kind: "dead", pid: 4242 });
  });

  it("names a pid reused by another program: the stale file is removed", async () => {
    lockFor(4242);
    const proc = table({ 4242: { argv: ["/usr/bin/sleep", "100"], parent: 1 } });
    expect(await recoverPostmasterLock(pgDir, { proc })).to.deep.equal({ kind: "reused", pid: 4242 });
    expect(inspectPostmasterLock(pgDir, proc)).to.deep.equal({ kind: "none" });
  });

  it("names a postgres of another data dir: not ours, so not stopped", () => {
    lockFor(4242);
    expect(
      inspectPostmasterLock(pgDir, table({ 4242: { argv: [POSTGRES, "-D", "/elsewhere/pg"], parent: 1 } })).kind,
    ).to.equal("reused");
  });

  it("names our postgres whose server is gone: stopped with a fast shutdown", async () => {
    lockFor(4242);
    const signals: string[] = [];
    const warnings: string[] = [];
    const proc = table({ 4242: { argv: [POSTGRES, "-D", pgDir, "-p", "40000"], parent: 1 } }, signals);
    expect(await recoverPostmasterLock(pgDir, { proc, warn: (m) => warnings.push(m) })).to.deep.equal({
      kind: "orphan",
      pid: 4242,
    });
    expect(signals).to.deep.equal(["SIGINT 4242"]);
    expect(warnings).to.have.length(1);
  });

  it("names our postgres still run by a live server: refused with a message, never signalled", async () => {
    lockFor(4242);
    const signals: string[] = [];
    const proc = table(
      {
        4242: { argv: [POSTGRES, "-D", pgDir], parent: 77 },
        77: { argv: ["/usr/bin/node", "/app/dist/cli/main.js", "server"], parent: 1 },
      },
      signals,
    );
    let message = "";
    await recoverPostmasterLock(pgDir, { proc }).catch((err: Error) => (message = err.message));
    expect(message).to.equal(
      `data dir ${pgDir} is in use by another running strongroom (PID 77); stop that one first or use another --data-dir`,
    );
    expect(signals).to.deep.equal([]);
  });

  it("names a running process it cannot inspect: a message saying what to do", async () => {
    lockFor(4242);
    const proc: ProcessTable = { ...table({}), alive: () => true, cmdline: () => undefined };
    let message = "";
    await recoverPostmasterLock(pgDir, { proc }).catch((err: Error) => (message = err.message));
    expect(message).to.match(
      /names PID 4242, which is running; if it is a PostgreSQL left by an earlier run, stop it \(kill 4242\) and start again$/,
    );
  });

  it("names an orphan this user may not signal: a message, not a stack trace", async () => {
    lockFor(4242);
    const proc: ProcessTable = {
      ...table({ 4242: { argv: [POSTGRES, "-D", pgDir], parent: 1 } }),
      signal: () => {
        throw Object.assign(new Error("kill EPERM"), { code: "EPERM" });
      },
    };
    let message = "";
    await recoverPostmasterLock(pgDir, { proc }).catch((err: Error) => (message = err.message));
    expect(message).to.match(/cannot be stopped by this user; stop it \(kill 4242\) and start again$/);
  });
});
