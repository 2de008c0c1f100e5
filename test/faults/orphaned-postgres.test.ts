import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { failedStart, startCliServer } from "../support/cli-server.js";

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

const postmasterPid = (dir: string): number =>
  Number(readFileSync(join(dir, "pg", "postmaster.pid"), "utf8").split("\n")[0]);

async function authenticate(port: number, key: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/authn/default/admin/authenticate`, {
    method: "POST",
    body: key,
    headers: { "Accept-Encoding": "base64" },
  });
  expect(res.status).to.equal(200);
  return `Token token="${await res.text()}"`;
}

describe("embedded Postgres left behind by a killed server", function () {
  this.timeout(180_000);
  let dir: string;
  let adminKey: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "strongroom-orphan-"));
  });
  after(() => {
    // Whatever happened, leave no Postgres running in a deleted folder.
    if (existsSync(join(dir, "pg", "postmaster.pid"))) {
      const pid = postmasterPid(dir);
      if (pid > 0 && alive(pid)) process.kill(pid, "SIGQUIT");
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("recovers after kill -9 of node alone: stops the orphaned Postgres, starts, and the data survives", async () => {
    const first = await startCliServer(["--data-dir", dir]);
    adminKey = (await first.waitFor(/API key for admin: (\S+)/))[1]!;
    const auth = await authenticate(first.port, adminKey);
    const base = `http://127.0.0.1:${first.port}`;
    expect(
      (
        await fetch(`${base}/policies/default/policy/root`, {
          method: "POST",
          headers: { Authorization: auth },
          body: "- !variable kept",
        })
      ).status,
    ).to.equal(201);
    expect(
      (
        await fetch(`${base}/secrets/default/variable/kept`, {
          method: "POST",
          headers: { Authorization: auth },
          body: "acknowledged before the kill",
        })
      ).status,
    ).to.equal(201);
    const orphan = postmasterPid(dir);
    await first.kill();
    expect(alive(orphan), "the embedded Postgres outlives node's kill -9").to.equal(true);

    const second = await startCliServer(["--data-dir", dir]);
    try {
      expect(second.output()).to.contain(
        "stopping the embedded PostgreSQL left running by an earlier run of this data dir",
      );
      expect(alive(orphan), "the orphan was stopped").to.equal(false);
      expect(postmasterPid(dir)).to.not.equal(orphan);
      const read = await fetch(`http://127.0.0.1:${second.port}/secrets/default/variable/kept`, {
        headers: { Authorization: await authenticate(second.port, adminKey) },
      });
      expect(read.status).to.equal(200);
      expect(await read.text()).to.equal("acknowledged before the kill");
    } finally {
      expect(await second.stop()).to.equal(0);
    }
  });

  it("refuses, on one line, to take the data dir of a server that is still running, and leaves it serving", async () => {
    const running = await startCliServer(["--data-dir", dir]);
    try {
      const second = await failedStart(["--data-dir", dir]);
      expect(second.code).to.equal(1);
      expect(second.stderr.trim().split("\n")).to.have.length(1);
      expect(second.stderr).to.match(
        new RegExp(
          `^strongroom: data dir .* is in use by another running strongroom \\(PID ${running.child.pid}\\); stop that one first or use another --data-dir\\n$`,
        ),
      );
      await authenticate(running.port, adminKey);
    } finally {
      expect(await running.stop()).to.equal(0);
    }
  });

  it("starts over a stale lock file whose process is gone", async () => {
    const gone = spawnSync("true").pid;
    const lock = join(dir, "pg", "postmaster.pid");
    expect(existsSync(lock)).to.equal(false);
    writeFileSync(lock, `${gone}\n${join(dir, "pg")}\n1700000000\n5432\n\n127.0.0.1\n  1234567     0\nready   \n`);
    const server = await startCliServer(["--data-dir", dir]);
    try {
      await authenticate(server.port, adminKey);
    } finally {
      expect(await server.stop()).to.equal(0);
    }
  });

  it("reports a Postgres that cannot start in one line that says why, never a stack trace", async () => {
    const version = join(dir, "pg", "PG_VERSION");
    const original = readFileSync(version, "utf8");
    writeFileSync(version, "9\n");
    try {
      const res = await failedStart(["--data-dir", dir]);
      expect(res.code).to.equal(1);
      expect(res.stderr.trim().split("\n")).to.have.length(1);
      expect(res.stderr).to.match(
        /^strongroom: embedded PostgreSQL in .* could not start: .*database files are incompatible with server/,
      );
      expect(res.stderr).to.not.match(/undefined|TypeError|\n\s+at /);
    } finally {
      writeFileSync(version, original);
    }
  });
});
