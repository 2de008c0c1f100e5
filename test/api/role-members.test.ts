import { expect } from "chai";
import { Client } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe("POST / DELETE /roles/{account}/{kind}/{id}?members&member=", () => {
  let server: TestServer;
  let admin: Client;
  let keys: Record<string, string>;
  const members = async (): Promise<any[]> =>
    (await admin.request("GET", "/roles/rm/group/dev%2Fdevelopers?members")).json();

  before(async () => {
    server = await startTestServer({ account: "rm" });
    admin = await new Client(server.url, "rm").login("admin", server.adminKey);
    const res = await admin.loadPolicy(
      "POST",
      "root",
      `
- !user bob
- !user reader
- !user creator
- !policy { id: dev, body: [ !group developers ] }
- !permit { role: !user reader, privilege: read, resource: !group dev/developers }
- !permit { role: !user creator, privileges: [read], resource: !group dev/developers }
- !permit { role: !user creator, privileges: [create], resource: !policy root }
`,
    );
    expect(res.status, res.text).to.equal(201);
    const created = res.json().created_roles;
    keys = { reader: created["rm:user:reader"].api_key, creator: created["rm:user:creator"].api_key };
  });
  after(() => server.close());

  it("adds a member (204) as the Go and Ruby SDKs ask, without a policy, and re-adding is a no-op", async () => {
    const res = await admin.request("POST", "/roles/rm/group/dev%2Fdevelopers?members&member=rm:user:bob");
    expect(res.status, res.text).to.equal(204);
    expect(res.text).to.equal("");
    const bob = (await members()).find((m) => m.member === "rm:user:bob");
    expect(bob).to.include({
      admin_option: false,
      ownership: false,
      role: "rm:group:dev/developers",
      member: "rm:user:bob",
    });
    expect(bob, "Conjur omits policy when a grant has none: never null").to.not.have.property("policy");
    expect(
      (await admin.request("POST", "/roles/rm/group/dev%2Fdevelopers/?members=true&member=rm%3Auser%3Abob")).status,
    ).to.equal(204);
    expect((await members()).filter((m) => m.member === "rm:user:bob")).to.have.length(1);
    // bob now has the group
    expect((await admin.request("GET", "/roles/rm/user/bob?all")).json()).to.include("rm:group:dev/developers");
  });

  it("needs create (add) or update (remove) on the policy that defined the role or one above it (root here), else 403", async () => {
    const reader = await new Client(server.url, "rm").login("reader", keys.reader!);
    expect(
      (await reader.request("POST", "/roles/rm/group/dev%2Fdevelopers?members&member=rm:user:reader")).status,
    ).to.equal(403);
    const creator = await new Client(server.url, "rm").login("creator", keys.creator!);
    expect(
      (await creator.request("POST", "/roles/rm/group/dev%2Fdevelopers?members&member=rm:user:creator")).status,
    ).to.equal(204);
    expect(
      (await creator.request("DELETE", "/roles/rm/group/dev%2Fdevelopers?members&member=rm:user:creator")).status,
    ).to.equal(403);
  });

  it("answers 404 for an invisible role, an unknown member, and a membership that does not exist", async () => {
    const reader = await new Client(server.url, "rm").login("reader", keys.reader!);
    expect((await reader.request("POST", "/roles/rm/user/bob?members&member=rm:user:reader")).status).to.equal(404);
    const unknown = await admin.request("POST", "/roles/rm/group/dev%2Fdevelopers?members&member=rm:user:nobody");
    expect(unknown.status).to.equal(404);
    expect(unknown.json().error.message).to.equal("User 'nobody' not found in account 'rm'");
    const absent = await admin.request("DELETE", "/roles/rm/group/dev%2Fdevelopers?members&member=rm:user:reader");
    expect(absent.status).to.equal(404);
    expect(absent.json().error.message).to.equal("User 'reader' not found in account 'rm'");
  });

  it("removes a member (204)", async () => {
    expect(
      (await admin.request("DELETE", "/roles/rm/group/dev%2Fdevelopers?members&member=rm:user:bob")).status,
    ).to.equal(204);
    expect((await members()).map((m) => m.member)).not.to.include("rm:user:bob");
  });

  it("has no route without the members key", async () => {
    expect((await admin.request("POST", "/roles/rm/group/dev%2Fdevelopers?member=rm:user:bob")).status).to.equal(404);
  });
});
