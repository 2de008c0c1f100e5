import { expect } from "chai";
import { Client, fq } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

/**
 * The read path caches each role's membership closure (docs/adr/0016-read-path.md). These
 * tests hold it to its promise: a membership change takes effect for the very next read,
 * on the replica that made it and on another replica of the same database, both ways.
 */
describe("secrets: cached role closures follow membership changes at once", () => {
  let server: TestServer;
  let replica: TestServer;
  let admin: Client;
  let viaServer: Client;
  let viaReplica: Client;
  const host = (account: string): string => fq(account, "app", "host");

  before(async () => {
    server = await startTestServer();
    replica = await startTestServer({ databaseUrl: server.databaseUrl, dataKey: server.dataKey });
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    const loaded = await admin.loadPolicy(
      "POST",
      "root",
      `
- !variable db/password
- !variable db/user
- !host app
- !group readers
- !layer apps
- !grant { role: !layer apps, member: !host app }
- !grant { role: !group readers, member: !layer apps }
- !permit { role: !group readers, privileges: [read, execute], resources: [!variable db/password, !variable db/user] }
`,
    );
    const apiKey = loaded.json().created_roles[host(server.account)].api_key as string;
    viaServer = await new Client(server.url, server.account).login("host/app", apiKey);
    viaReplica = await new Client(replica.url, server.account).login("host/app", apiKey);
    await admin.setSecret("db/password", "s3cret");
    await admin.setSecret("db/user", "app");
  });
  after(async () => {
    await replica.close();
    await server.close();
  });

  const revoke = () =>
    admin.request(
      "DELETE",
      `/roles/${server.account}/group/readers?members&member=${encodeURIComponent(fq(server.account, "apps", "layer"))}`,
    );
  const grant = () =>
    admin.request(
      "POST",
      `/roles/${server.account}/group/readers?members&member=${encodeURIComponent(fq(server.account, "apps", "layer"))}`,
    );

  it("reads through a nested membership on both replicas (closures now cached on both)", async () => {
    expect((await viaServer.getSecret("db/password")).text).to.equal("s3cret");
    expect((await viaReplica.getSecret("db/password")).text).to.equal("s3cret");
    expect(
      (await viaReplica.batch([fq(server.account, "db/password"), fq(server.account, "db/user")])).status,
    ).to.equal(200);
  });

  it("refuses the very next read after a membership is revoked, on the same replica and on another", async () => {
    expect((await revoke()).status).to.equal(204);
    // No permission left anywhere in the closure: invisible, so 404 exactly as for a missing variable.
    expect((await viaServer.getSecret("db/password")).status).to.equal(404);
    expect((await viaReplica.getSecret("db/password")).status).to.equal(404);
    // A batch answers 403 for any found variable it may not execute (Conjur's order of checks).
    expect((await viaReplica.batch([fq(server.account, "db/password")])).status).to.equal(403);
  });

  it("allows the very next read after the membership is granted again", async () => {
    expect((await grant()).status).to.equal(204);
    expect((await viaReplica.getSecret("db/user")).text).to.equal("app");
    expect(
      (await viaServer.batch([fq(server.account, "db/password"), fq(server.account, "db/user")])).json(),
    ).to.deep.equal({
      [fq(server.account, "db/password")]: "s3cret",
      [fq(server.account, "db/user")]: "app",
    });
  });

  it("follows a policy replace that drops the grant", async () => {
    expect((await viaServer.getSecret("db/password")).status).to.equal(200);
    const res = await admin.loadPolicy("PATCH", "root", "- !delete { record: !layer apps }\n");
    expect(res.status).to.equal(201);
    expect((await viaServer.getSecret("db/password")).status).to.equal(404);
    expect((await viaReplica.getSecret("db/user")).status).to.equal(404);
  });
});
