import { expect } from "chai";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Audit, type AuditRecord, type AuditSink } from "../../src/audit/audit.js";
import { FileAuditSink } from "../../src/audit/file-sink.js";
import { errors } from "../../src/errors.js";

class MemorySink implements AuditSink {
  records: AuditRecord[] = [];
  failing = false;
  writes = 0;
  write(records: readonly AuditRecord[]): Promise<void> {
    this.writes++;
    if (this.failing) return Promise.reject(new Error("ENOSPC"));
    this.records.push(...records);
    return Promise.resolve();
  }
}

const context = { action: "read-secret" as const, role: "a:user:alice", resource: "a:variable:x", requestId: "r1" };

describe("unit: audit", () => {
  it("records success only after the work succeeded, and the failure's status and code otherwise", async () => {
    const sink = new MemorySink();
    const audit = new Audit([sink]);
    expect(await audit.around(context, () => Promise.resolve(42))).to.equal(42);
    let thrown: unknown;
    await audit.around(context, () => Promise.reject(errors.forbidden())).catch((err: unknown) => (thrown = err));
    expect(thrown).to.deep.include({ status: 403 });
    expect(sink.records.map((r) => [r.outcome, r.reason])).to.deep.equal([
      ["success", undefined],
      ["failure", "403 forbidden"],
    ]);
  });

  it("fails closed: when a sink rejects, the caller gets a 503 instead of the work's result", async () => {
    const sink = new MemorySink();
    sink.failing = true;
    const seen: unknown[] = [];
    const audit = new Audit([sink], (err) => seen.push(err));
    const err = await audit.around(context, () => Promise.resolve("value")).catch((e: unknown) => e);
    expect(err).to.deep.include({ status: 503 });
    expect(JSON.stringify((err as { body: unknown }).body)).to.not.contain("value");
    expect(seen).to.have.length(1);
  });

  it("records a change before it commits, so a change that cannot be audited is not committed", async () => {
    const sink = new MemorySink();
    const audit = new Audit([sink]);
    const log: string[] = [];
    await audit.aroundCommit(context, async (beforeCommit) => {
      await beforeCommit();
      log.push(`commit after ${sink.records.length} record`);
    });
    expect(log).to.deep.equal(["commit after 1 record"]);
    sink.failing = true;
    let committed = false;
    const err = await audit
      .aroundCommit(context, async (beforeCommit) => {
        await beforeCommit();
        committed = true;
      })
      .catch((e: unknown) => e);
    expect(err).to.deep.include({ status: 503 });
    expect(committed).to.equal(false);
    expect(sink.writes).to.equal(2); // no second attempt to record a failure on a failed sink
  });

  it("writes one record per resource in one write", async () => {
    const sink = new MemorySink();
    await new Audit([sink]).recordEach(
      context,
      Array.from({ length: 50 }, (_, i) => [`a:variable:v${i}`, i === 7 ? "forbidden" : undefined] as const),
    );
    expect(sink.writes).to.equal(1);
    expect(sink.records).to.have.length(50);
    expect(sink.records[7]).to.deep.include({ resource: "a:variable:v7", outcome: "failure", reason: "forbidden" });
    expect(sink.records[8]).to.deep.include({ resource: "a:variable:v8", outcome: "success" });
  });
});

describe("unit: audit file sink", () => {
  const dir = mkdtempSync(join(tmpdir(), "strongroom-audit-"));
  const record = (i: number): AuditRecord => ({
    time: "2026-01-01T00:00:00.000Z",
    ...context,
    resource: `a:variable:${i}`,
    outcome: "success",
  });

  it("creates the file with mode 0600 and appends JSON lines from many concurrent writers, none lost or torn", async () => {
    const path = join(dir, "audit.log");
    writeFileSync(path, '{"existing":true}\n', { mode: 0o644 });
    const sink = await FileAuditSink.open(path);
    await Promise.all(Array.from({ length: 200 }, (_, i) => sink.write([record(i)])));
    await sink.close();
    expect(statSync(path).mode & 0o777).to.equal(0o600);
    const lines = readFileSync(path, "utf8").trimEnd().split("\n");
    expect(lines).to.have.length(201);
    expect(JSON.parse(lines[0]!)).to.deep.equal({ existing: true });
    expect(lines.slice(1).map((l) => JSON.parse(l).resource)).to.have.members(
      Array.from({ length: 200 }, (_, i) => `a:variable:${i}`),
    );
    expect(JSON.parse(lines[1]!)).to.include({ type: "audit", action: "read-secret" });
  });

  it("rejects every writer when the device is full (/dev/full)", async () => {
    const modeBefore = statSync("/dev/full").mode;
    const sink = await FileAuditSink.open("/dev/full");
    const results = await Promise.allSettled([sink.write([record(1)]), sink.write([record(2)])]);
    await sink.close();
    expect(results.map((r) => r.status)).to.deep.equal(["rejected", "rejected"]);
    expect(statSync("/dev/full").mode).to.equal(modeBefore); // a device is never chmod-ed
  });
});
