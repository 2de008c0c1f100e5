import { expect } from "chai";
import { Client, fq } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe("secrets: change stream GET /secrets/watch (long-poll)", () => {
  let server: TestServer;
  let admin: Client;
  let reader: Client;
  const id = (name: string): string => fq(server.account, name);
  const watch = (client: Client, names: string[], query = "") =>
    client.request("GET", `/secrets/watch?variable_ids=${encodeURIComponent(names.map(id).join(","))}${query}`);

  before(async () => {
    server = await startTestServer({ flags: { "max-watchers": "3" } });
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    const loaded = await admin.loadPolicy(
      "POST",
      "root",
      `
- !variable one
- !variable two
- !variable other
- !variable empty
- !variable hidden
- !host reader
- !permit { role: !host reader, privilege: execute, resources: [!variable one, !variable two, !variable other, !variable empty] }
- !permit { role: !host reader, privilege: read, resource: !variable hidden }
`,
    );
    reader = await new Client(server.url, server.account).login(
      "host/reader",
      loaded.json().created_roles[fq(server.account, "reader", "host")].api_key,
    );
    for (const name of ["one", "two", "other", "hidden"]) await admin.setSecret(name, `${name}-v1`);
  });
  after(() => server.close());

  it("without a cursor answers at once with the current cursor", async () => {
    const res = await watch(reader, ["one", "two"]);
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-type")).to.equal("application/json; charset=utf-8");
    expect(res.headers.get("x-request-id")).to.be.a("string");
    expect(res.json()).to.have.property("changed", true);
    expect(res.json().cursor).to.be.a("string").with.length.above(10);
  });

  it("with the current cursor waits, and answers changed as soon as a watched variable gets a version", async () => {
    const { cursor } = (await watch(reader, ["one", "two"])).json();
    const started = Date.now();
    const pending = watch(reader, ["one", "two"], `&cursor=${cursor}&timeout=20`);
    await new Promise((ok) => setTimeout(ok, 300));
    await admin.setSecret("two", "two-v2");
    const res = await pending;
    expect(res.status).to.equal(200);
    expect(res.json().changed).to.equal(true);
    expect(res.json().cursor).to.not.equal(cursor);
    expect(Date.now() - started, "woken by the change, not the timeout").to.be.below(10_000);
  });

  it("ignores changes to variables it does not watch, and answers unchanged with the same cursor at the timeout", async () => {
    const { cursor } = (await watch(reader, ["one"])).json();
    const pending = watch(reader, ["one"], `&cursor=${cursor}&timeout=2`);
    await new Promise((ok) => setTimeout(ok, 300));
    await admin.setSecret("other", "other-v2");
    const res = await pending;
    expect(res.json()).to.deep.equal({ changed: false, cursor });
  });

  it("answers at once when the cursor is stale (a change between fetch and watch is never lost)", async () => {
    const { cursor } = (await watch(reader, ["one"])).json();
    await admin.setSecret("one", "one-v2");
    const res = await watch(reader, ["one"], `&cursor=${cursor}&timeout=30`);
    expect(res.json().changed).to.equal(true);
  });

  it("is authorized as a batch read: 403 when any variable may not be executed, 404 naming a missing or empty one", async () => {
    expect((await watch(reader, ["one", "hidden"])).status).to.equal(403);
    const missing = await watch(reader, ["one", "nope"]);
    expect(missing.status).to.equal(404);
    expect(missing.json().error.message).to.include(id("nope"));
    expect((await watch(reader, ["empty"])).status).to.equal(404);
    expect(
      (await reader.request("GET", `/secrets/watch?variable_ids=${encodeURIComponent(id("one"))}`, { auth: false }))
        .status,
    ).to.equal(401);
  });

  it("rejects bad input with 422, never 5xx", async () => {
    expect((await reader.request("GET", "/secrets/watch")).status).to.equal(422);
    expect((await reader.request("GET", "/secrets/watch?variable_ids=a,,b")).status).to.equal(422);
    expect((await watch(reader, ["one"], "&timeout=0")).status).to.equal(422);
    expect((await watch(reader, ["one"], "&timeout=301")).status).to.equal(422);
    expect((await watch(reader, ["one"], "&timeout=abc")).status).to.equal(422);
    expect((await watch(reader, ["one"], `&cursor=${"x".repeat(65)}`)).status).to.equal(422);
    const tooMany = Array.from({ length: 1001 }, (_, i) => `v${i}`).join(",");
    expect((await reader.request("GET", `/secrets/watch?variable_ids=${tooMany}`)).status).to.equal(422);
  });

  it("holds a bounded number of watches: the next one gets 503 with Retry-After, and a slot frees when a client goes away", async () => {
    const { cursor } = (await watch(reader, ["one"])).json();
    const held = [1, 2, 3].map(() => {
      const controller = new AbortController();
      const done = fetch(
        `${server.url}/secrets/watch?variable_ids=${encodeURIComponent(id("one"))}&cursor=${cursor}&timeout=60`,
        {
          headers: { Authorization: `Token token="${reader.token}"` },
          signal: controller.signal,
        },
      ).catch(() => undefined);
      return { controller, done };
    });
    await new Promise((ok) => setTimeout(ok, 500));
    const refused = await watch(reader, ["one"], `&cursor=${cursor}&timeout=1`);
    expect(refused.status).to.equal(503);
    expect(refused.headers.get("retry-after")).to.equal("1");
    held[0]!.controller.abort();
    await new Promise((ok) => setTimeout(ok, 300));
    const admitted = await watch(reader, ["one"], `&cursor=${cursor}&timeout=1`);
    expect(admitted.status).to.equal(200);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).to.match(/strongroom_secret_watch_responses_total\{outcome="refused"\} [1-9]/);
    expect(metrics).to.match(/strongroom_secret_watchers 2/);
    await admin.setSecret("one", "one-v3"); // wakes the two still held
    await Promise.all(held.map((h) => h.done));
  });
});

describe("secrets: the change stream fans out in memory (one statement per wave, exact authorization)", () => {
  let server: TestServer;
  let admin: Client;
  let reader: Client;
  const id = (name: string): string => fq(server.account, name);
  const path = (names: string[], query = ""): string =>
    `/secrets/watch?variable_ids=${encodeURIComponent(names.map(id).join(","))}${query}`;
  const hub = () => server.services.watchHub!;
  const changedAnswers = async (): Promise<number> =>
    Number(
      /strongroom_secret_watch_responses_total\{outcome="changed"\} (\d+)/.exec(
        await (await fetch(`${server.url}/metrics`)).text(),
      )?.[1] ?? 0,
    );
  /** The wave histogram: how many waves, over how many seconds in all. */
  const waveMetric = async (): Promise<{ count: number; sum: number }> => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
    return {
      count: read("strongroom_secret_watch_wave_seconds_count"),
      sum: read("strongroom_secret_watch_wave_seconds_sum"),
    };
  };
  const until = async (condition: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !condition(); i++) await new Promise((ok) => setTimeout(ok, 25));
  };

  before(async () => {
    server = await startTestServer({ flags: { "max-watchers": "1000" } });
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    const loaded = await admin.loadPolicy(
      "POST",
      "root",
      `
- !variable a
- !variable b
- !variable c
- !host reader
- !permit { role: !host reader, privilege: [read, execute], resources: [!variable a, !variable b, !variable c] }
`,
    );
    reader = await new Client(server.url, server.account).login(
      "host/reader",
      loaded.json().created_roles[fq(server.account, "reader", "host")].api_key,
    );
    for (const name of ["a", "b", "c"]) await admin.setSecret(name, `${name}-v1`);
  });
  after(() => server.close());

  it("a wave answers every follower exactly once, from one statement, and re-arming with the new cursor costs none", async () => {
    const { cursor } = (await reader.request("GET", path(["a", "b"]))).json();
    const before = {
      statements: hub().statements,
      waves: hub().waves,
      changed: await changedAnswers(),
      wave: await waveMetric(),
    };
    const followers = Array.from({ length: 200 }, (_, i) =>
      reader.request("GET", path(i % 2 ? ["a", "b"] : ["b", "a"], `&cursor=${cursor}&timeout=60`)),
    );
    await until(() => hub().watchers === 200);
    expect(hub().watchers).to.equal(200);
    const checks = hub().requestChecks;
    await admin.setSecret("a", "a-v2");
    const answers = await Promise.all(followers);
    const next = answers[0]!.json().cursor;
    for (const res of answers) expect(res.json()).to.deep.equal({ changed: true, cursor: next });
    expect(next).to.not.equal(cursor);
    expect(hub().waves - before.waves, "one wave").to.equal(1);
    expect(hub().statements - before.statements, "one statement for the whole wave").to.equal(1);
    expect((await changedAnswers()) - before.changed, "each follower answered once").to.equal(200);
    // Operators see the fan-out's duration: one wave observed, from its signal to its last answer.
    const wave = await waveMetric();
    expect(wave.count - before.wave.count).to.equal(1);
    expect(wave.sum - before.wave.sum)
      .to.be.greaterThan(0)
      .and.below(10);
    // Re-arming with the cursor the wave gave: no statement on the pool, none on the stream.
    const again = reader.request("GET", path(["a", "b"], `&cursor=${next}&timeout=1`));
    expect((await again).json()).to.deep.equal({ changed: false, cursor: next });
    expect(hub().requestChecks, "no request check for an unchanged re-arm").to.equal(checks);
  });

  it("answers a stale cursor at once, without waiting for any signal", async () => {
    const { cursor } = (await reader.request("GET", path(["c"]))).json();
    await admin.setSecret("c", "c-v2");
    const started = Date.now();
    const res = await reader.request("GET", path(["c"], `&cursor=${cursor}&timeout=60`));
    expect(res.json().changed).to.equal(true);
    expect(res.json().cursor).to.not.equal(cursor);
    expect(Date.now() - started).to.be.below(2_000);
  });

  it("a watcher whose permission was revoked while it waited is told nothing of the change: 403", async () => {
    const { cursor } = (await reader.request("GET", path(["b"]))).json();
    const pending = reader.request("GET", path(["b"], `&cursor=${cursor}&timeout=60`));
    await until(() => hub().watchers === 1);
    await admin.loadPolicy(
      "PATCH",
      "root",
      "- !deny { role: !host reader, privilege: [read, execute], resource: !variable b }",
    );
    await admin.setSecret("b", "b-v2");
    const res = await pending;
    expect(res.status).to.equal(403);
    expect(res.text).to.not.include(cursor);
    // And a re-arm with the old cursor: refused as well, never "changed" with a new cursor.
    expect((await reader.request("GET", path(["b"], `&cursor=${cursor}&timeout=1`))).status).to.equal(403);
  });

  it("a revoked watcher that re-armed before the revocation is refused at its timeout, never told 'unchanged'", async () => {
    const { cursor } = (await reader.request("GET", path(["a"]))).json();
    const pending = reader.request("GET", path(["a"], `&cursor=${cursor}&timeout=1`));
    await until(() => hub().watchers === 1);
    await admin.loadPolicy(
      "PATCH",
      "root",
      "- !deny { role: !host reader, privilege: [read, execute], resource: !variable a }",
    );
    expect((await pending).status).to.equal(403);
  });
});
