/**
 * What CyberArk's real clients (npm run test:clients) found that our replays had missed, each kept
 * here as a fast regression test with the exact request the client sends.
 */
import { expect } from "chai";
import { Client } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe("findings of the real-client tier", () => {
  let server: TestServer;
  let admin: Client;

  before(async () => {
    server = await startTestServer({ env: { STRONGROOM_AUTHENTICATORS: "authn" } });
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    const loaded = await admin.loadPolicy(
      "POST",
      "root",
      "- !user operator\n- !policy\n  id: conjur/authn-jwt/py\n  body:\n  - !webservice\n  - !variable public-keys\n",
    );
    expect(loaded.status, loaded.text).to.equal(201);
  });
  after(() => server.close());

  it("Python SDK set_authenticator_state: PATCH /authn-jwt%2F{service_id}/{account} (the id as one escaped segment, as Conjur's /:authenticator(/:service_id)/:account route takes it)", async () => {
    const patch = (client: Client, segment: string, body: string) =>
      client.request("PATCH", `/${segment}/${server.account}`, {
        body,
        headers: { "Content-Type": "text/plain; charset=utf-8" },
      });
    const enabled = await patch(admin, "authn-jwt%2Fpy", "enabled=true");
    expect([enabled.status, enabled.text]).to.deep.equal([204, ""]);
    expect((await admin.request("GET", "/authenticators", { auth: false })).json().enabled).to.include("authn-jwt/py");
    expect((await patch(admin, "authn-jwt%2Fpy", "enabled=false")).status).to.equal(204);
    expect((await admin.request("GET", "/authenticators", { auth: false })).json().enabled).to.not.include(
      "authn-jwt/py",
    );
    const operatorKey = (await admin.request("PUT", `/authn/${server.account}/api_key?role=user:operator`)).text;
    const operator = await new Client(server.url, server.account).login("operator", operatorKey);
    expect((await patch(operator, "authn-jwt%2Fpy", "enabled=true")).status, "no update privilege").to.equal(403);
    expect((await patch(admin, "authn-jwt%2Fnothing", "enabled=true")).status, "no webservice").to.equal(401);
    expect((await patch(admin, "authn-nope%2Fpy", "enabled=true")).status, "not an authenticator we serve").to.equal(
      404,
    );
  });

  it("conjur-api-go TestClient_ResourcesCount: ?count=true counts the page the search returns (limit, offset; offset alone pages by 10)", async () => {
    const variables = Array.from({ length: 13 }, (_, i) => `- !variable count/v${String(i).padStart(2, "0")}`).join(
      "\n",
    );
    expect((await admin.loadPolicy("PATCH", "root", `${variables}\n`)).status).to.equal(201);
    const count = async (query: string) =>
      (await admin.request("GET", `/resources/${server.account}/variable?search=count/&count=true${query}`)).json()
        .count;
    expect(await count("")).to.equal(13);
    expect(await count("&limit=1")).to.equal(1);
    expect(await count("&offset=1&limit=50")).to.equal(12);
    expect(await count("&offset=12&limit=50")).to.equal(1);
    expect(await count("&offset=20")).to.equal(0);
    expect(await count("&offset=1")).to.equal(10);
  });

  it("conjur-api-go TestPolicy_FetchPolicy: the fetched YAML is laid out as Conjur's (Psych) writes it: `- !host bob` short form, body items not indented", async () => {
    expect(
      (
        await admin.loadPolicy(
          "POST",
          "root",
          "- !policy\n  id: fetched\n  body:\n  - !host bob\n  - !variable { id: v, kind: k }\n",
        )
      ).status,
    ).to.equal(201);
    const res = await admin.request("GET", `/policies/${server.account}/policy/fetched?depth=64&limit=100000`, {
      headers: { "Content-Type": "application/x-yaml" },
    });
    expect(res.status, res.text).to.equal(200);
    expect(res.text).to.equal(
      "---\n- !policy\n  id: fetched\n  body:\n  - !host bob\n  - !variable\n    id: v\n    kind: k\n",
    );
  });

  it("conjur-api-go TestPolicy_DryRunPolicy: a dry run that deletes users reports their owner policy as updated (memberships before/after, restricted_to on every role)", async () => {
    expect(
      (
        await admin.loadPolicy(
          "POST",
          "root",
          "- !policy\n  id: dr\n  body:\n  - !user alice\n  - !user bob\n  - !user carol\n",
        )
      ).status,
    ).to.equal(201);
    const dry = await admin.request("PATCH", `/policies/${server.account}/policy/dr?dryRun=true`, {
      body: "- !delete { record: !user bob }\n- !delete { record: !user carol }\n",
    });
    expect(dry.status, dry.text).to.equal(200);
    const report = dry.json();
    expect(report.deleted.items.map((i: { id: string }) => i.id)).to.deep.equal(["bob@dr", "carol@dr"]);
    const A = server.account;
    const [before] = report.updated.before.items;
    const [after] = report.updated.after.items;
    expect(report.updated.before.items).to.have.length(1);
    expect(before).to.include({ identifier: `${A}:policy:dr`, type: "policy" });
    expect(before.restricted_to).to.deep.equal([]);
    expect(before.memberships).to.have.members([`${A}:user:alice@dr`, `${A}:user:bob@dr`, `${A}:user:carol@dr`]);
    expect(after.memberships).to.deep.equal([`${A}:user:alice@dr`]);
  });

  it("conjur-api-go TestClient_RoleMembers: a self-owned admin is the one member of user:admin (Conjur's ownership grant)", async () => {
    const members = await admin.request("GET", `/roles/${server.account}/user/admin?members`);
    expect(members.status, members.text).to.equal(200);
    expect(
      members
        .json()
        .map((m: { member: string; admin_option: boolean; ownership: boolean }) => [
          m.member,
          m.admin_option,
          m.ownership,
        ]),
    ).to.deep.equal([[`${server.account}:user:admin`, true, true]]);
  });

  it("Conjur CLI `whoami`: token_issued_at as Conjur (Rails) writes a time, 2025-01-16T15:55:35.000+00:00", async () => {
    const who = (await admin.request("GET", "/whoami")).json();
    expect(who).to.have.all.keys("client_ip", "user_agent", "account", "username", "token_issued_at");
    expect(who.token_issued_at).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+00:00$/);
  });
});
