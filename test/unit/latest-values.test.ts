import { expect } from "chai";
import { LatestValues, type ValueRow } from "../../src/secrets/latest-values.js";
import type { Queryable } from "../../src/storage/database.js";

/** A database that answers every id with a row (except ids starting with "none"), recording each statement's ids. */
function fakeDatabase(fail = false) {
  const statements: string[][] = [];
  const db = {
    statements,
    query: async (config: { values: [string[]] }) => {
      const ids = config.values[0];
      statements.push(ids);
      if (fail) throw new Error("connection terminated");
      const rows: ValueRow[] = ids.filter((id) => !id.startsWith("none")).map((id) => ({ resource_id: id, version: 1, value: Buffer.from(id), authorization_version: "v1" }));
      return { rows };
    },
  };
  return db;
}

describe("secrets: latest values of one event-loop turn read with one statement", () => {
  it("answers every read of the turn from one statement, each with its own ids (no row for an id without a value)", async () => {
    const db = fakeDatabase();
    const values = new LatestValues(db as unknown as Queryable);
    const [a, b, c] = await Promise.all([values.read(["x"]), values.read(["y", "none-z"]), values.read(["x", "w"])]);
    expect(db.statements).to.deep.equal([["x", "y", "none-z", "w"]]);
    expect(a.get("x")!.value.toString()).to.equal("x");
    expect(b.get("y")!.value.toString()).to.equal("y");
    expect(b.has("none-z")).to.equal(false);
    expect(c.get("w")!.value.toString()).to.equal("w");
  });

  it("starts a new statement for reads of a later turn", async () => {
    const db = fakeDatabase();
    const values = new LatestValues(db as unknown as Queryable);
    await values.read(["x"]);
    await values.read(["y"]);
    expect(db.statements).to.deep.equal([["x"], ["y"]]);
  });

  it("never splits one read across statements (a batch is answered from one snapshot), at most 1,000 ids a statement otherwise", async () => {
    const db = fakeDatabase();
    const values = new LatestValues(db as unknown as Queryable);
    const big = Array.from({ length: 900 }, (_, i) => `big${i}`);
    const other = Array.from({ length: 200 }, (_, i) => `other${i}`);
    const huge = Array.from({ length: 1500 }, (_, i) => `huge${i}`);
    await Promise.all([values.read(big), values.read(other), values.read(huge)]);
    expect(db.statements.map((ids) => ids.length)).to.deep.equal([900, 200, 1500]);
  });

  it("fails every read of a statement that fails, and the next turn starts afresh", async () => {
    const db = fakeDatabase(true);
    const values = new LatestValues(db as unknown as Queryable);
    const results = await Promise.allSettled([values.read(["x"]), values.read(["y"])]);
    expect(results.map((r) => r.status)).to.deep.equal(["rejected", "rejected"]);
    expect(db.statements).to.have.length(1);
  });
});
