import { expect } from "chai";
import { Client } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe("introspection: /resources and /roles", () => {
  let server: TestServer;
  let admin: Client;
  let app: Client;

  before(async () => {
    server = await startTestServer({ account: "intro" });
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    const loaded = await admin.loadPolicy(
      "POST",
      "root",
      `
- !host app
- !group apps
- !grant { role: !group apps, member: !host app }
- !variable { id: db/password, annotations: { description: primary database } }
- !variable db/user
- !variable cache/password
- !variable private
- !permit { role: !group apps, privileges: [read, execute], resources: [ !variable db/password, !variable db/user ] }
`,
    );
    app = await new Client(server.url, server.account).login(
      "host/app",
      loaded.json().created_roles["intro:host:app"].api_key,
    );
  });
  after(() => server.close());

  it("lists only visible resources, ordered by id", async () => {
    const ids = (await app.request("GET", "/resources/intro")).json().map((r: { id: string }) => r.id);
    expect(ids).to.deep.equal(["intro:variable:db/password", "intro:variable:db/user"]);
    const all = (await admin.request("GET", "/resources/intro/variable")).json().map((r: { id: string }) => r.id);
    expect(all).to.deep.equal([
      "intro:variable:cache/password",
      "intro:variable:db/password",
      "intro:variable:db/user",
      "intro:variable:private",
    ]);
  });

  it("supports search, limit, offset and count", async () => {
    expect((await admin.request("GET", "/resources/intro/variable?search=password")).json()).to.have.length(2);
    expect((await admin.request("GET", "/resources/intro/variable?search=primary")).json()[0].id).to.equal(
      "intro:variable:db/password",
    );
    expect((await admin.request("GET", "/resources/intro/variable?limit=1&offset=1")).json()[0].id).to.equal(
      "intro:variable:db/password",
    );
    expect((await admin.request("GET", "/resources/intro/variable?count=true")).json()).to.deep.equal({ count: 4 });
    expect((await app.request("GET", "/resources/intro?count=true")).json()).to.deep.equal({ count: 2 });
    const bad = await admin.request("GET", "/resources/intro?limit=0");
    expect(bad.status).to.equal(422);
    expect(bad.json().error.message).to.equal("'limit' contains an invalid value. 'limit' must be a positive integer.");
    expect((await admin.request("GET", "/resources/intro?offset=-1")).status).to.equal(422);
  });

  it("shows a resource in Conjur's shape, and 404 when invisible", async () => {
    await admin.setSecret("db/password", "x");
    const res = (await app.request("GET", "/resources/intro/variable/db%2Fpassword")).json();
    expect(res).to.include({
      id: "intro:variable:db/password",
      owner: "intro:user:admin",
      policy: "intro:policy:root",
    });
    expect(res.created_at).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/);
    expect(res.permissions).to.deep.include({
      privilege: "execute",
      role: "intro:group:apps",
      policy: "intro:policy:root",
    });
    expect(res.annotations).to.deep.equal([
      { name: "description", value: "primary database", policy: "intro:policy:root" },
    ]);
    expect(res.secrets).to.deep.equal([{ version: 1, expires_at: null }]);
    const hidden = await app.request("GET", "/resources/intro/variable/private");
    expect(hidden.status).to.equal(404);
    expect(hidden.json().error).to.deep.include({
      code: "not_found",
      message: "Variable 'private' not found in account 'intro'",
      target: "variable",
    });
  });

  it("checks a privilege with ?check=true: 204 or 404, and 403 for a role the caller does not have", async () => {
    expect(
      (await app.request("GET", "/resources/intro/variable/db%2Fuser?check=true&privilege=execute")).status,
    ).to.equal(204);
    expect(
      (await app.request("GET", "/resources/intro/variable/db%2Fuser?check=true&privilege=update")).status,
    ).to.equal(404);
    expect(
      (
        await admin.request(
          "GET",
          "/resources/intro/variable/db%2Fuser?check=true&privilege=execute&role=intro:host:app",
        )
      ).status,
    ).to.equal(204);
    expect(
      (await admin.request("GET", "/resources/intro/variable/private?check=true&privilege=execute&role=intro:host:app"))
        .status,
    ).to.equal(404);
    expect(
      (
        await app.request(
          "GET",
          "/resources/intro/variable/db%2Fuser?check=true&privilege=execute&role=intro:user:admin",
        )
      ).status,
    ).to.equal(403);
    expect((await app.request("GET", "/resources/intro/variable/db%2Fuser?check=true")).status).to.equal(422);
  });

  it("lists permitted roles, members included", async () => {
    const roles = (
      await admin.request("GET", "/resources/intro/variable/db%2Fuser?permitted_roles=true&privilege=execute")
    ).json();
    expect(roles).to.deep.equal(["intro:group:apps", "intro:host:app", "intro:user:admin"]);
  });

  it("shows roles with members, memberships and all", async () => {
    const group = (await admin.request("GET", "/roles/intro/group/apps")).json();
    expect(group.id).to.equal("intro:group:apps");
    expect(group.members.map((m: { member: string }) => m.member)).to.deep.equal([
      "intro:host:app",
      "intro:user:admin",
    ]);
    expect((await admin.request("GET", "/roles/intro/host/app?memberships")).json()).to.deep.equal([
      {
        admin_option: false,
        ownership: false,
        role: "intro:group:apps",
        member: "intro:host:app",
        policy: "intro:policy:root",
      },
    ]);
    expect((await admin.request("GET", "/roles/intro/host/app?all")).json()).to.deep.equal([
      "intro:group:apps",
      "intro:host:app",
    ]);
    expect((await admin.request("GET", "/roles/intro/host/app?all&count=true")).json()).to.deep.equal({ count: 2 });
    expect((await app.request("GET", "/roles/intro/user/admin")).status).to.equal(404);
  });
});
