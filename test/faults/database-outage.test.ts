import { expect } from "chai";
import { Client } from "../support/client.js";
import { FaultProxy } from "../support/fault-proxy.js";
import { freshDatabase } from "../support/postgres.js";
import { startTestServer, type TestServer } from "../support/server.js";

/** Short configured waits, so that "bounded" can be asserted within a test's time. */
const CONNECT_TIMEOUT_MS = 1000;
const QUERY_TIMEOUT_MS = 1500;
/** Connect or query timeout, whichever a request meets, plus slack for a loaded machine. */
const OUTAGE_ANSWER_BOUND_MS = 4500;

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
}

async function eventually(check: () => Promise<boolean>, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${withinMs} ms`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

describe("database outages", function () {
  this.timeout(60_000);
  let proxy: FaultProxy;
  let server: TestServer;
  let admin: Client;

  before(async () => {
    const databaseUrl = await freshDatabase();
    proxy = await FaultProxy.forUrl(databaseUrl).start();
    server = await startTestServer({
      account: "faults",
      databaseUrl: proxy.url(databaseUrl),
      flags: { "db-connect-timeout": String(CONNECT_TIMEOUT_MS), "db-query-timeout": String(QUERY_TIMEOUT_MS) },
    });
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    expect((await admin.loadPolicy("POST", "root", "- !variable db/password")).status).to.equal(201);
    expect((await admin.setSecret("db/password", "before-the-outage")).status).to.equal(201);
  });
  after(async () => {
    await proxy.forward();
    await server.close();
    await proxy.stop();
  });
  afterEach(() => proxy.forward());

  const expectUnavailable = async (
    request: () => Promise<{ status: number; json(): any }>,
    what: string,
  ): Promise<void> => {
    const { result, ms } = await timed(request);
    expect(result.status, what).to.equal(503);
    expect(result.json(), what).to.deep.include({
      error: { code: "service_unavailable", message: "The database is unavailable; retry shortly" },
    });
    expect(ms, `${what} answered after ${Math.round(ms)} ms`).to.be.below(OUTAGE_ANSWER_BOUND_MS);
  };

  const expectNotReady = async (): Promise<string> => {
    const { result, ms } = await timed(() => admin.request("GET", "/ready", { auth: false }));
    expect(result.status).to.equal(503);
    expect(ms, `/ready answered after ${Math.round(ms)} ms`).to.be.below(1500);
    return result.json().reason as string;
  };

  const expectRecovered = async (): Promise<void> => {
    await eventually(async () => (await admin.request("GET", "/ready", { auth: false })).status === 200, 10_000);
    const read = await admin.getSecret("db/password");
    expect(read.status).to.equal(200);
    expect(read.text).to.equal("before-the-outage");
    expect((await admin.setSecret("db/password", "after-the-outage")).status).to.equal(201);
    expect((await admin.getSecret("db/password")).text).to.equal("after-the-outage");
    expect((await admin.setSecret("db/password", "before-the-outage")).status).to.equal(201);
  };

  it("answers 503 quickly while the database refuses connections, and recovers without a restart", async () => {
    await proxy.refuse();
    await expectUnavailable(() => admin.getSecret("db/password"), "read");
    await expectUnavailable(() => admin.setSecret("db/password", "lost?"), "write");
    await expectUnavailable(() => admin.batch([`${server.account}:variable:db/password`]), "batch");
    expect(await expectNotReady()).to.equal("database refused the connection");
    expect((await admin.request("GET", "/health", { auth: false })).status).to.equal(200);
    await proxy.forward();
    await expectRecovered();
  });

  it("answers 503 within the configured timeouts while packets are dropped, and recovers after the partition heals", async () => {
    // Warm connections sit in the pool; the partition catches them idle, as in production.
    expect((await admin.getSecret("db/password")).status).to.equal(200);
    proxy.drop();
    await expectUnavailable(() => admin.getSecret("db/password"), "read");
    await expectUnavailable(() => admin.setSecret("db/password", "lost?"), "write");
    // Several at once: none waits for another's timeout beyond the pool's acquire bound.
    const { ms } = await timed(() =>
      Promise.all(
        Array.from({ length: 30 }, () => expectUnavailable(() => admin.getSecret("db/password"), "concurrent read")),
      ),
    );
    expect(ms).to.be.below(2 * OUTAGE_ANSWER_BOUND_MS);
    expect(await expectNotReady()).to.match(/^database (did not answer within 900 ms|connection timed out)$/);
    const health = await timed(() => admin.request("GET", "/health", { auth: false }));
    expect(health.result.status).to.equal(200);
    expect(health.ms).to.be.below(1000);
    const metrics = (await admin.request("GET", "/metrics", { auth: false })).text;
    expect(metrics).to.match(/^strongroom_database_up 0$/m);
    await proxy.forward();
    await expectRecovered();
    expect((await admin.request("GET", "/metrics", { auth: false })).text).to.match(/^strongroom_database_up 1$/m);
  });
});
