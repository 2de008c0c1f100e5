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
    reader = await new Client(server.url, server.account).login("host/reader", loaded.json().created_roles[fq(server.account, "reader", "host")].api_key);
    for (const name of ["one", "two", "other", "hidden"]) await admin.setSecret(name, `${name}-v1`);
  });
  after(() => server.close());

  it("without a cursor answers at once with the current cursor", async () => {
    const res = await watch(reader, ["one", "two"]);
    expect(res.status).to.equal(200);
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
    expect((await reader.request("GET", `/secrets/watch?variable_ids=${encodeURIComponent(id("one"))}`, { auth: false })).status).to.equal(401);
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
      const done = fetch(`${server.url}/secrets/watch?variable_ids=${encodeURIComponent(id("one"))}&cursor=${cursor}&timeout=60`, {
        headers: { Authorization: `Token token="${reader.token}"` },
        signal: controller.signal,
      }).catch(() => undefined);
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
