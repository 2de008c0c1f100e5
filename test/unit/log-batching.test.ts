import { expect } from "chai";
import { pino } from "pino";
import { LogAuditSink } from "../../src/audit/log-sink.js";
import { BatchingDestination, logInfoLater, logInOneWrite } from "../../src/telemetry/logger.js";

describe("logging: a batch of lines in one write", () => {
  const recording = () => {
    const writes: string[] = [];
    return { writes, target: { write: (s: string) => void writes.push(s) } };
  };

  it("writes each line at once outside a batch", () => {
    const { writes, target } = recording();
    const log = pino({ level: "info" }, new BatchingDestination(target));
    log.info("one");
    log.info("two");
    expect(writes).to.have.length(2);
  });

  it("writes every line logged inside a batch (by the logger or its children) in one write, in order", () => {
    const { writes, target } = recording();
    const log = pino({ level: "info" }, new BatchingDestination(target));
    const child = log.child({ audit: true });
    logInOneWrite(child, () => {
      for (let i = 0; i < 100; i++) child.info({ resource: `v${i}` }, "audit");
    });
    expect(writes).to.have.length(1);
    const lines = writes[0]!
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.resource)).to.deep.equal(Array.from({ length: 100 }, (_, i) => `v${i}`));
    expect(lines.every((l) => l.audit === true && l.msg === "audit")).to.equal(true);
  });

  it("makes the audit log sink fail when the destination cannot write (audit fails closed)", async () => {
    const log = pino(
      { level: "info" },
      new BatchingDestination({
        write: () => {
          throw new Error("EIO");
        },
      }),
    );
    const sink = new LogAuditSink(log);
    const record = {
      time: new Date().toISOString(),
      action: "read-secret" as const,
      role: "a:host:h",
      resource: "a:variable:v",
      outcome: "success" as const,
    };
    let failed = false;
    try {
      await sink.write([record, record]);
    } catch {
      failed = true;
    }
    expect(failed).to.equal(true);
  });

  it("writes one line per record for a batch of records, as one write", async () => {
    const { writes, target } = recording();
    const sink = new LogAuditSink(pino({ level: "info" }, new BatchingDestination(target)));
    const records = Array.from({ length: 10 }, (_, i) => ({
      time: "",
      action: "read-secret" as const,
      role: "a:host:h",
      resource: `a:variable:v${i}`,
      outcome: "success" as const,
    }));
    await sink.write(records);
    expect(writes).to.have.length(1);
    expect(writes[0]!.trimEnd().split("\n")).to.have.length(10);
  });
});

describe("logging: request-log lines written with the next write", () => {
  const recording = () => {
    const writes: string[] = [];
    return { writes, target: { write: (s: string) => void writes.push(s) } };
  };

  it("joins a deferred line to the next write, in order, and writes it alone after this turn when nothing follows", async () => {
    const { writes, target } = recording();
    const log = pino({ level: "info", base: { service: "strongroom" } }, new BatchingDestination(target));
    logInfoLater(log, `"requestId":"r1","status":200`, "request");
    expect(writes).to.have.length(0);
    log.info({ audit: true }, "audit line");
    expect(writes).to.have.length(1);
    const [first, second] = writes[0]!
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(first).to.include({ level: 30, service: "strongroom", requestId: "r1", status: 200, msg: "request" });
    expect(second).to.include({ audit: true, msg: "audit line" });
    logInfoLater(log, `"requestId":"r2"`, "request");
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).to.have.length(2);
    expect(JSON.parse(writes[1]!)).to.include({ requestId: "r2", msg: "request" });
  });

  it("flushes deferred lines on flushSync (exit), and writes nothing below the level", () => {
    const { writes, target } = recording();
    const destination = new BatchingDestination(target);
    logInfoLater(pino({ level: "warn" }, destination), `"requestId":"quiet"`, "request");
    logInfoLater(pino({ level: "info" }, destination), `"requestId":"r3"`, "request");
    destination.flushSync();
    expect(writes.join("")).to.not.include("quiet");
    expect(JSON.parse(writes.join(""))).to.include({ requestId: "r3" });
  });
});
