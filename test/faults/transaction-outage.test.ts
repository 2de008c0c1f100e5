import { expect } from "chai";
import pg from "pg";
import { connectionOptions } from "../../src/storage/connection-options.js";
import { classifyDatabaseError } from "../../src/storage/pg-errors.js";
import { inTransaction } from "../../src/storage/transaction.js";
import { FaultProxy } from "../support/fault-proxy.js";
import { freshDatabase } from "../support/postgres.js";

describe("a transaction whose connection dies", function () {
  this.timeout(30_000);
  let proxy: FaultProxy;
  let pool: pg.Pool;

  before(async () => {
    const url = await freshDatabase();
    proxy = await FaultProxy.forUrl(url).start();
    pool = new pg.Pool({
      ...connectionOptions(proxy.url(url), { connectTimeoutMs: 1000, queryTimeoutMs: 1000 }),
      max: 2,
    });
    pool.on("error", () => undefined);
  });
  after(async () => {
    await pool.end();
    await proxy.stop();
  });

  it("fails with an outage error, does not crash the process, and the pool serves again after", async () => {
    const uncaught: unknown[] = [];
    const record = (err: unknown): number => uncaught.push(err);
    process.on("uncaughtException", record);
    try {
      const failure = await inTransaction(pool, async (client) => {
        await client.query("SELECT 1");
        await proxy.refuse(); // reset mid-transaction
        await client.query("SELECT 2");
      }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(classifyDatabaseError(failure)).to.equal("unavailable");
      await new Promise((ok) => setTimeout(ok, 100));
      expect(uncaught).to.deep.equal([]);
    } finally {
      process.off("uncaughtException", record);
    }
    await proxy.forward();
    expect((await inTransaction(pool, (client) => client.query("SELECT 3 AS n"))).rows).to.deep.equal([{ n: 3 }]);
  });

  it("gives up on a partitioned transaction within the query timeout and discards its connection", async () => {
    const failure = await inTransaction(pool, async (client) => {
      await client.query("SELECT 1");
      proxy.drop();
      await client.query("SELECT 2");
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((failure as Error).message).to.equal("Query read timeout");
    expect(pool.totalCount, "the stuck connection left the pool").to.equal(0);
    await proxy.forward();
    expect((await pool.query("SELECT 4 AS n")).rows).to.deep.equal([{ n: 4 }]);
  });
});
