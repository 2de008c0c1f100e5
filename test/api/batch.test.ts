import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { Client, fq } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe("secrets: batch retrieval GET /secrets?variable_ids=", () => {
  let server: TestServer;
  let admin: Client;
  let reader: Client;
  const id = (name: string): string => fq(server.account, name);

  before(async () => {
    server = await startTestServer();
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    const loaded = await admin.loadPolicy(
      "POST",
      "root",
      `
- !variable one
- !variable two
- !variable binary
- !variable umlaut
- !variable empty
- !variable hidden
- !variable seen
- !host reader
- !permit { role: !host reader, privilege: execute, resources: [!variable one, !variable two, !variable binary] }
- !permit { role: !host reader, privilege: read, resource: !variable seen }
`,
    );
    reader = await new Client(server.url, server.account).login(
      "host/reader",
      loaded.json().created_roles[fq(server.account, "reader", "host")].api_key,
    );
    await admin.setSecret("one", "first");
    await admin.setSecret("two", "second");
    await admin.setSecret("binary", randomBytes(16));
    await admin.setSecret("umlaut", "Grüße");
    await admin.setSecret("hidden", "h");
    await admin.setSecret("seen", "s");
  });
  after(() => server.close());

  it("returns the map of id to value in one response", async () => {
    const res = await reader.batch([id("one"), id("two")]);
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-type")).to.match(/^application\/json/);
    expect(res.json()).to.deep.equal({ [id("one")]: "first", [id("two")]: "second" });
  });

  it("accepts raw commas, %2C commas and the seed spec's variable_id name", async () => {
    expect((await reader.request("GET", `/secrets?variable_ids=${id("one")},${id("two")}`)).json()).to.have.keys(
      id("one"),
      id("two"),
    );
    expect((await reader.request("GET", `/secrets?variable_id=${encodeURIComponent(id("one"))}`)).json()).to.deep.equal(
      { [id("one")]: "first" },
    );
  });

  it("answers duplicated ids once", async () => {
    expect((await reader.batch([id("one"), id("one")])).json()).to.deep.equal({ [id("one")]: "first" });
  });

  it("returns valid UTF-8 (umlauts) as strings", async () => {
    expect((await admin.batch([id("umlaut")])).json()).to.deep.equal({ [id("umlaut")]: "Grüße" });
  });

  it("gives 406 for a value that is not valid UTF-8 without Accept-Encoding: base64", async () => {
    const res = await reader.batch([id("one"), id("binary")], { "Accept-Encoding": "*" });
    expect(res.status).to.equal(406);
    expect(res.json().error.code).to.equal("not_acceptable");
  });

  it("base64-encodes every value with Accept-Encoding: base64 and says so in Content-Encoding", async () => {
    const res = await reader.batch([id("one"), id("binary")], { "Accept-Encoding": "Base64" });
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-encoding")).to.equal("base64");
    const body = res.json();
    expect(Buffer.from(body[id("one")], "base64").toString()).to.equal("first");
    expect(Buffer.from(body[id("binary")], "base64")).to.have.length(16);
  });

  it("gives 403 if any found variable lacks execute, even when visible", async () => {
    expect((await reader.batch([id("one"), id("seen")])).status).to.equal(403);
    expect((await reader.batch([id("one"), id("hidden")])).status).to.equal(403);
  });

  it("gives 404 naming the first missing id in request order", async () => {
    const res = await admin.batch([id("one"), id("nope-a"), id("nope-b")]);
    expect(res.status).to.equal(404);
    expect(res.json().error.message).to.equal(`CONJ00076E Variable ${id("nope-a")} is empty or not found.`);
  });

  it("gives 404 for a variable with no value", async () => {
    expect((await admin.batch([id("one"), id("empty")])).json().error.message).to.contain(id("empty"));
  });

  it("gives 422 for a missing or empty list or an empty item", async () => {
    for (const query of [
      "",
      "?variable_ids",
      "?variable_ids=",
      "?variable_ids=,,",
      `?variable_ids=${id("one")},,${id("two")}`,
      `?variable_ids=,${id("one")}`,
    ]) {
      const res = await admin.request("GET", `/secrets${query}`);
      expect(res.status, query).to.equal(422);
      expect(res.json(), query).to.deep.equal({ error: { code: "argument_error", message: "variable_ids" } });
    }
  });

  it("tolerates a trailing comma, as Conjur does", async () => {
    expect((await admin.request("GET", `/secrets?variable_ids=${id("one")},`)).status).to.equal(200);
  });
});
