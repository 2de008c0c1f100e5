import { expect } from "chai";
import { Client } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe("policy ?dryRun=true", () => {
  let server: TestServer;
  let admin: Client;
  /** What the Go SDK's LoadPolicyRequest(validate=true) sends: the method, `?dryRun=true`, a YAML body. */
  const dryRun = (method: string, policy: string, text: string, client: Client = admin) =>
    client.request(method, `/policies/dr/policy/${encodeURIComponent(policy)}?dryRun=true`, {
      body: text,
      headers: { "Content-Type": "application/x-yaml" },
    });
  const versions = async (): Promise<number> =>
    (await admin.request("GET", "/resources/dr/policy/root")).json().policy_versions.length;
  const status = async (kind: string, id: string): Promise<number> =>
    (await admin.request("GET", `/resources/dr/${kind}/${encodeURIComponent(id)}`)).status;

  before(async () => {
    server = await startTestServer({ account: "dr" });
    admin = await new Client(server.url, "dr").login("admin", server.adminKey);
    const res = await admin.loadPolicy(
      "POST",
      "root",
      `
- !group devs
- !user { id: bob, annotations: { team: core } }
- !variable db-password
- !permit { role: !group devs, privileges: [read, execute], resource: !variable db-password }
- !policy { id: apps, body: [ !variable token ] }
`,
    );
    expect(res.status, res.text).to.equal(201);
  });
  after(() => server.close());

  it("answers 200 with created items in Conjur's shape and persists nothing", async () => {
    const before = await versions();
    const res = await dryRun(
      "POST",
      "root",
      `
- !user { id: alice, restricted_to: 10.0.0.0/24, annotations: { owner: ops } }
- !grant { role: !group devs, member: !user alice }
- !variable api-key
`,
    );
    expect(res.status, res.text).to.equal(200);
    const body = res.json();
    expect(body).to.have.all.keys("status", "created", "updated", "deleted");
    expect(body.status).to.equal("Valid YAML");
    const alice = body.created.items.find((i: any) => i.identifier === "dr:user:alice");
    expect(alice).to.deep.equal({
      identifier: "dr:user:alice",
      id: "alice",
      type: "user",
      owner: "dr:user:admin",
      policy: "dr:policy:root",
      permissions: {},
      annotations: { owner: "ops" },
      members: ["dr:user:admin"],
      memberships: ["dr:group:devs"],
      restricted_to: ["10.0.0.0/24"],
    });
    const variable = body.created.items.find((i: any) => i.identifier === "dr:variable:api-key");
    expect(variable).to.deep.equal({
      identifier: "dr:variable:api-key",
      id: "api-key",
      type: "variable",
      owner: "dr:user:admin",
      policy: "dr:policy:root",
      permitted: {},
      annotations: {},
    });
    // The group gains a member: an update, before and after.
    const devsBefore = body.updated.before.items.find((i: any) => i.identifier === "dr:group:devs");
    const devsAfter = body.updated.after.items.find((i: any) => i.identifier === "dr:group:devs");
    expect(devsBefore.members).to.deep.equal(["dr:user:admin"]);
    expect(devsAfter.members).to.deep.equal(["dr:user:admin", "dr:user:alice"]);
    expect(devsAfter.permissions).to.deep.equal({
      execute: ["dr:variable:db-password"],
      read: ["dr:variable:db-password"],
    });
    expect(body.deleted.items).to.deep.equal([]);
    expect(await status("user", "alice")).to.equal(404);
    expect(await status("variable", "api-key")).to.equal(404);
    expect(await versions()).to.equal(before);
  });

  it("reports deletions of PATCH and PUT without deleting", async () => {
    const patch = await dryRun("PATCH", "root", "- !delete { record: !user bob }\n");
    expect(patch.status, patch.text).to.equal(200);
    expect(patch.json().deleted.items.map((i: any) => i.identifier)).to.deep.equal(["dr:user:bob"]);
    expect(patch.json().deleted.items[0].annotations).to.deep.equal({ team: "core" });
    const put = await dryRun("PUT", "apps", "- !variable other\n");
    expect(put.status, put.text).to.equal(200);
    expect(put.json().created.items.map((i: any) => i.identifier)).to.deep.equal(["dr:variable:apps/other"]);
    expect(put.json().deleted.items.map((i: any) => i.identifier)).to.deep.equal(["dr:variable:apps/token"]);
    expect(await status("user", "bob")).to.equal(200);
    expect(await status("variable", "apps/token")).to.equal(200);
  });

  it("answers 422 in the dry-run error shape for a YAML error, with its line", async () => {
    const res = await dryRun("POST", "root", "- !user alice\n- !user: bob: x\n");
    expect(res.status).to.equal(422);
    const body = res.json();
    expect(body).to.have.all.keys("status", "errors");
    expect(body.status).to.equal("Invalid YAML");
    expect(body.errors).to.have.length(1);
    expect(body.errors[0].line).to.equal(2);
    expect(body.errors[0].message).to.be.a("string").and.not.equal("");
    expect(body.errors[0].context.policy_id).to.equal("root");
  });

  it("answers 422 for an unknown reference and for deletion statements in POST, as the real load refuses them", async () => {
    const unknown = await dryRun("POST", "root", "- !grant { role: !group nobody, member: !user bob }\n");
    expect(unknown.status).to.equal(422);
    expect(unknown.json().errors[0].message).to.contain("Group 'nobody' not found in account 'dr'");
    expect(
      (await admin.loadPolicy("POST", "root", "- !grant { role: !group nobody, member: !user bob }\n")).status,
    ).to.equal(422);
    const deletion = await dryRun("POST", "root", "- !delete { record: !user bob }\n");
    expect(deletion.status).to.equal(422);
    expect(deletion.json().status).to.equal("Invalid YAML");
    expect((await dryRun("POST", "root", "")).status).to.equal(422);
  });

  it("needs the same privileges as a load: 403 when visible without them, 404 when invisible", async () => {
    const policy = await admin.loadPolicy(
      "POST",
      "root",
      "- !user reader\n- !permit { role: !user reader, privilege: read, resource: !policy apps }\n",
    );
    const reader = await new Client(server.url, "dr").login(
      "reader",
      policy.json().created_roles["dr:user:reader"].api_key,
    );
    expect((await dryRun("POST", "apps", "- !variable x\n", reader)).status).to.equal(403);
    expect((await dryRun("POST", "root", "- !variable x\n", reader)).status).to.equal(404);
  });

  it("reads dryRun as Conjur does (stripped, any case); other values load for real", async () => {
    const upper = await admin.request("POST", "/policies/dr/policy/root?dryRun=%20TRUE%20", {
      body: "- !variable maybe\n",
    });
    expect(upper.status).to.equal(200);
    expect(await status("variable", "maybe")).to.equal(404);
    const real = await admin.request("POST", "/policies/dr/policy/root?dryRun=false", { body: "- !variable maybe\n" });
    expect(real.status).to.equal(201);
    expect(await status("variable", "maybe")).to.equal(200);
  });

  it("redacts ids the caller cannot see", async () => {
    const setup = await admin.loadPolicy(
      "POST",
      "root",
      `
- !user loader
- !group hidden
- !grant { role: !policy apps, member: !user loader }
- !permit { role: !user loader, privileges: [read, create], resource: !policy apps }
`,
    );
    const loader = await new Client(server.url, "dr").login(
      "loader",
      setup.json().created_roles["dr:user:loader"].api_key,
    );
    const res = await dryRun(
      "POST",
      "apps",
      "- !variable secret\n- !permit { role: !group /hidden, privilege: read, resource: !variable secret }\n",
      loader,
    );
    expect(res.status, res.text).to.equal(200);
    const item = res.json().created.items.find((i: any) => i.identifier === "dr:variable:apps/secret");
    expect(item.permitted).to.deep.equal({ read: ["dr:group:[REDACTED]"] });
    expect(res.json().updated.before.items.concat(res.json().updated.after.items)).to.deep.include({
      identifier: "dr:group:[REDACTED]",
      type: "group",
    });
    expect(res.text).not.to.contain("dr:group:hidden");
  });
});
