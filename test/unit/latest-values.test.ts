import { expect } from "chai";
import pg from "pg";
import { latestValues, type ValueRow } from "../../src/secrets/latest-values.js";

/** A pool (never connected) whose query answers every id with a row, except ids starting with "none"; it records each statement's ids. */
function fakePool(fail = false) {
  const statements: string[][] = [];
  const pool = new pg.Pool();
  pool.query = (async (config: { values: [string[]] }) => {
    const ids = config.values[0];
    statements.push([...ids]);
    if (fail) throw new Error("connection terminated");
    const rows: ValueRow[] = ids
      .filter((id) => !id.startsWith("none"))
      .map((id) => ({ resource_id: id, version: 1, value: Buffer.from(id), authorization_version: "v1" }));
    return { rows };
  }) as unknown as typeof pool.query;
  return { pool, statements };
}

describe("secrets: latest values of one event-loop turn read with one statement", () => {
  it("answers every read of the turn from one statement, each with its own ids (no entry for an id without a value)", async () => {
    const { pool, statements } = fakePool();
    const [a, b, c] = await Promise.all([
      latestValues(pool, ["x"]),
      latestValues(pool, ["y", "none-z"]),
      latestValues(pool, ["w"]),
    ]);
    expect(statements).to.deep.equal([["x", "y", "none-z", "w"]]);
    expect(a.get("x")!.value.toString()).to.equal("x");
    expect([...b.keys()]).to.deep.equal(["y"]);
    expect(c.get("w")!.value.toString()).to.equal("w");
  });

  it("joins reads that arrive in separate I/O callbacks of one turn, and starts afresh in the next turn", async () => {
    const { pool, statements } = fakePool();
    const reads: Promise<unknown>[] = [];
    // Two callbacks of one turn, as two requests parsed from two sockets.
    await new Promise<void>((resolve) => {
      setImmediate(() => reads.push(latestValues(pool, ["x"])));
      setImmediate(() => {
        reads.push(latestValues(pool, ["y"]));
        resolve();
      });
    });
    await Promise.all(reads);
    await latestValues(pool, ["z"]);
    expect(statements).to.deep.equal([["x", "y"], ["z"]]);
  });

  it("gives a read of many ids a statement of its own", async () => {
    const { pool, statements } = fakePool();
    const many = Array.from({ length: 100 }, (_, i) => `v${i}`);
    const [rows] = await Promise.all([latestValues(pool, many), latestValues(pool, ["x"]), latestValues(pool, ["y"])]);
    expect(statements.map((ids) => ids.length).sort()).to.deep.equal([100, 2]);
    expect(rows.size).to.equal(100);
  });

  it("fails every read of a statement that fails, and the next turn starts afresh", async () => {
    const { pool, statements } = fakePool(true);
    const results = await Promise.allSettled([latestValues(pool, ["x"]), latestValues(pool, ["y"])]);
    expect(results.map((r) => r.status)).to.deep.equal(["rejected", "rejected"]);
    expect(statements).to.have.length(1);
  });
});
