import { expect } from "chai";
import { readGrants, updateGrants } from "../../src/authz/cached-grants.js";
import { Client, fq } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

/**
 * Granted reads are cached per (role, variable) and checked against the authorization
 * version in the statement that fetches the value (docs/adr/0020-read-decisions.md). These
 * tests hold the cache to its promise: every change a read's authorization depends on —
 * a permission, an owner, a mime type, the variable itself — applies to the very next read,
 * single or batch, on the replica that made the change and on another one.
 */
describe("secrets: cached grants (read, update) follow every authorization change at once", () => {
  let server: TestServer;
  let replica: TestServer;
  let admin: Client;
  let clients: Client[];
  const id = (name: string): string => fq(server.account, name);

  /** Reads on both replicas until each has a cached grant, so the next read takes the cached path. */
  async function warm(name: string, expected: string): Promise<void> {
    for (const client of clients) {
      for (let i = 0; i < 2; i++) expect((await client.getSecret(name)).text).to.equal(expected);
      expect((await client.batch([id(name)])).json()).to.deep.equal({ [id(name)]: expected });
    }
  }

  before(async () => {
    server = await startTestServer();
    replica = await startTestServer({ databaseUrl: server.databaseUrl, dataKey: server.dataKey });
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    const loaded = await admin.loadPolicy(
      "POST",
      "root",
      `
- !host app
- !group readers
- !grant { role: !group readers, member: !host app }
- !variable { id: db/password, annotations: { conjur/mime_type: text/plain } }
- !variable db/user
- !variable db/owned
- !permit { role: !group readers, privileges: [read, execute], resources: [!variable db/password, !variable db/user] }
- !variable db/rotated
${Array.from({ length: 20 }, (_, i) => `- !variable many/v${i}`).join("\n")}
- !permit { role: !group readers, privileges: [read, execute], resources: [${Array.from({ length: 20 }, (_, i) => `!variable many/v${i}`).join(", ")}] }
- !permit { role: !group readers, privileges: [read, execute, update], resources: !variable db/rotated }
`,
    );
    const apiKey = loaded.json().created_roles[fq(server.account, "app", "host")].api_key as string;
    clients = [
      await new Client(server.url, server.account).login("host/app", apiKey),
      await new Client(replica.url, server.account).login("host/app", apiKey),
    ];
    await admin.setSecret("db/password", "s3cret");
    await admin.setSecret("db/user", "app");
    await admin.setSecret("db/owned", "mine");
    for (let i = 0; i < 20; i++) await admin.setSecret(`many/v${i}`, `value ${i}`);
  });
  after(async () => {
    await replica.close();
    await server.close();
  });

  it("caches a granted read and answers from it (content type included) while nothing changes", async () => {
    await warm("db/password", "s3cret");
    expect(readGrants.get(fq(server.account, "app", "host"), id("db/password"))).to.not.equal(undefined);
    for (const client of clients)
      expect((await client.getSecret("db/password")).headers.get("content-type")).to.match(/^text\/plain/);
  });

  it("a new value is read at once, through the cached decision", async () => {
    await warm("db/password", "s3cret");
    await admin.setSecret("db/password", "rotated");
    for (const client of clients) expect((await client.getSecret("db/password")).text).to.equal("rotated");
  });

  it("refuses the very next read after `execute` alone is revoked (visible, so 403)", async () => {
    await warm("db/user", "app");
    const res = await admin.loadPolicy(
      "PATCH",
      "root",
      "- !deny { role: !group readers, privilege: execute, resource: !variable db/user }\n",
    );
    expect(res.status).to.equal(201);
    for (const client of clients) {
      expect((await client.getSecret("db/user")).status).to.equal(403);
      expect((await client.batch([id("db/user")])).status).to.equal(403);
    }
  });

  it("follows a changed mime type at once", async () => {
    await warm("db/password", "rotated");
    const res = await admin.loadPolicy(
      "PATCH",
      "root",
      "- !variable { id: db/password, annotations: { conjur/mime_type: application/json } }\n",
    );
    expect(res.status).to.equal(201);
    for (const client of clients)
      expect((await client.getSecret("db/password")).headers.get("content-type")).to.match(/^application\/json/);
  });

  it("reads granted through ownership stop when the owner changes", async () => {
    // Ownership alone (no permit): the group owns db/owned from here on.
    expect(
      (await admin.loadPolicy("PATCH", "root", "- !variable { id: db/owned, owner: !group readers }\n")).status,
    ).to.equal(201);
    await warm("db/owned", "mine");
    expect(
      (await admin.loadPolicy("PATCH", "root", "- !variable { id: db/owned, owner: !user admin }\n")).status,
    ).to.equal(201);
    // No privilege left: invisible, so 404 exactly as for a missing variable.
    for (const client of clients) expect((await client.getSecret("db/owned")).status).to.equal(404);
  });

  it("a deleted variable is gone on the very next read, and one re-created without a grant stays refused", async () => {
    await warm("db/password", "rotated");
    expect((await admin.loadPolicy("PATCH", "root", "- !delete { record: !variable db/password }\n")).status).to.equal(
      201,
    );
    for (const client of clients) {
      expect((await client.getSecret("db/password")).status).to.equal(404);
      expect((await client.batch([id("db/password")])).status).to.equal(404);
    }
    expect((await admin.loadPolicy("PATCH", "root", "- !variable db/password\n")).status).to.equal(201);
    await admin.setSecret("db/password", "new");
    for (const client of clients) expect((await client.getSecret("db/password")).status).to.equal(404);
  });

  it("a write after `update` is revoked is refused at once, on both replicas, and writes nothing", async () => {
    for (const [i, client] of clients.entries()) {
      for (let n = 0; n < 2; n++) expect((await client.setSecret("db/rotated", `v${i}${n}`)).status).to.equal(201);
    }
    expect(updateGrants.get(fq(server.account, "app", "host"), id("db/rotated"))).to.not.equal(undefined);
    expect(
      (
        await admin.loadPolicy(
          "PATCH",
          "root",
          "- !deny { role: !group readers, privilege: update, resource: !variable db/rotated }\n",
        )
      ).status,
    ).to.equal(201);
    for (const client of clients) expect((await client.setSecret("db/rotated", "refused")).status).to.equal(403);
    expect((await clients[0]!.getSecret("db/rotated")).text).to.equal("v11");
    expect((await admin.loadPolicy("PATCH", "root", "- !delete { record: !variable db/rotated }\n")).status).to.equal(
      201,
    );
    for (const client of clients) expect((await client.setSecret("db/rotated", "gone")).status).to.equal(404);
  });

  it("a large batch (its own statement, version checked in it) is refused at once when one of its variables is revoked", async () => {
    const many = Array.from({ length: 20 }, (_, i) => id(`many/v${i}`));
    for (const client of clients) {
      for (let n = 0; n < 2; n++) expect(Object.keys((await client.batch(many)).json())).to.have.length(20);
    }
    expect(
      (
        await admin.loadPolicy(
          "PATCH",
          "root",
          "- !deny { role: !group readers, privilege: execute, resource: !variable many/v7 }\n",
        )
      ).status,
    ).to.equal(201);
    for (const client of clients) expect((await client.batch(many)).status).to.equal(403);
    for (const client of clients)
      expect((await client.batch(many.filter((v) => !v.endsWith("/v7")))).json()[id("many/v19")]).to.equal("value 19");
  });

  it("a grant is used only together with the version it was taken under (a forged stale entry is re-checked)", async () => {
    const role = fq(server.account, "app", "host");
    // As if a grant had been cached under some earlier version: the full check must decide.
    readGrants.grant(role, id("db/owned"), { version: "00000000-0000-0000-0000-000000000000", mimeType: null });
    for (const client of clients) expect((await client.getSecret("db/owned")).status).to.equal(404);
    expect(readGrants.get(role, id("db/owned"))).to.equal(undefined);
  });
});
