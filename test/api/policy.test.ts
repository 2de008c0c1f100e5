import { expect } from "chai";
import { Client, type ApiResponse } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe("policy loading", () => {
  let server: TestServer;
  let admin: Client;
  const exists = async (kind: string, id: string): Promise<boolean> =>
    (await admin.request("GET", `/resources/${server.account}/${kind}/${encodeURIComponent(id)}`)).status === 200;
  const can = async (roleId: string, privilege: string, kind: string, id: string): Promise<boolean> =>
    (
      await admin.request(
        "GET",
        `/resources/${server.account}/${kind}/${encodeURIComponent(id)}?check=true&privilege=${privilege}&role=${encodeURIComponent(roleId)}`,
      )
    ).status === 204;
  const ok = (res: ApiResponse): ApiResponse => {
    expect(res.status, res.text).to.equal(201);
    return res;
  };

  before(async () => {
    server = await startTestServer({ account: "pol" });
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
  });
  after(() => server.close());

  it("creates records, answers created_roles (users and hosts with API keys) and a version", async () => {
    const res = ok(
      await admin.loadPolicy(
        "POST",
        "root",
        `
- !user alice
- !group devs
- !policy
  id: prod
  body:
  - !host app
  - !user bob
  - !variable db/password
  - !layer
  - !webservice api
`,
      ),
    );
    const body = res.json();
    expect(body.version).to.equal(1);
    expect(Object.keys(body.created_roles).sort()).to.deep.equal([
      "pol:host:prod/app",
      "pol:user:alice",
      "pol:user:bob@prod",
    ]);
    expect(body.created_roles["pol:host:prod/app"]).to.have.keys("id", "api_key");
    expect(await exists("variable", "prod/db/password")).to.equal(true);
    expect(await exists("layer", "prod")).to.equal(true);
    expect(await exists("webservice", "prod/api")).to.equal(true);
  });

  it("makes the enclosing policy the owner of records and the owner an admin member of roles", async () => {
    const res = await admin.request("GET", `/resources/pol/variable/prod%2Fdb%2Fpassword`);
    expect(res.json()).to.include({
      id: "pol:variable:prod/db/password",
      owner: "pol:policy:prod",
      policy: "pol:policy:prod",
    });
    const role = await admin.request("GET", `/roles/pol/host/prod%2Fapp`);
    expect(role.json().members).to.deep.include({
      admin_option: true,
      ownership: true,
      role: "pol:host:prod/app",
      member: "pol:policy:prod",
      policy: "pol:policy:prod",
    });
  });

  it("loads into a nested policy with relative, absolute and ../ ids, plurals, !member and anchors", async () => {
    ok(
      await admin.loadPolicy(
        "POST",
        "prod",
        `
- &secrets
  - !variable api-key
  - !variable { id: token, kind: password, mime_type: text/plain, annotations: { rotation: weekly } }
- !group readers
- !grant
  role: !group readers
  members: [ !host app, !member { role: !user /alice, admin: true } ]
- !grant { role: !group readers, member: !group /devs }
- !permit
  roles: [ !group readers ]
  privileges: [ read, execute ]
  resources: *secrets
`,
      ),
    );
    expect(await can("pol:host:prod/app", "execute", "variable", "prod/api-key")).to.equal(true);
    expect(await can("pol:user:alice", "execute", "variable", "prod/token")).to.equal(true);
    expect(await can("pol:host:prod/app", "update", "variable", "prod/token")).to.equal(false);
    const token = (await admin.request("GET", `/resources/pol/variable/prod%2Ftoken`)).json();
    expect(token.annotations.map((a: { name: string; value: string }) => [a.name, a.value])).to.deep.equal([
      ["conjur/kind", "password"],
      ["conjur/mime_type", "text/plain"],
      ["rotation", "weekly"],
    ]);
    // A grantee outside the policy (absolute) is fine: prod grants its own group to /devs.
    const members = (await admin.request("GET", `/roles/pol/group/prod%2Freaders?members`)).json();
    expect(members.map((m: { member: string }) => m.member)).to.include("pol:group:devs");
    const all = (await admin.request("GET", `/roles/pol/host/prod%2Fapp?all`)).json();
    expect(all).to.include.members(["pol:host:prod/app", "pol:group:prod/readers"]);
  });

  it("keeps a load inside its policy: no record, grant, permission or deletion outside it (Conjur's AbsoluteChecker)", async () => {
    // Whoever may load policy `team` must not reach above it: take over a root group, read a
    // root secret, create or delete root records.
    ok(
      await admin.loadPolicy(
        "POST",
        "root",
        "- !group admins\n- !variable root-secret\n- !policy team\n- !grant { role: !group admins, member: !user admin }\n",
      ),
    );
    const refused = async (mode: "POST" | "PATCH" | "PUT", text: string, message: string): Promise<void> => {
      const res = await admin.loadPolicy(mode, "team", text);
      expect(res.status, `${text}: ${res.text}`).to.equal(422);
      expect(res.json().error.code).to.equal("policy_invalid");
      expect(res.json().error.message).to.match(new RegExp(`^line \\d+, column \\d+: ${message}`));
    };
    await refused(
      "POST",
      "- !user me\n- !grant { role: !group /admins, member: !user me }\n",
      "Illegal absolute id: /admins",
    );
    await refused(
      "POST",
      "- !user me\n- !grant { role: !group ../admins, member: !user me }\n",
      "Invalid relative reference: team/../admins",
    );
    await refused(
      "POST",
      "- !user me\n- !permit { role: !user me, privilege: [read, execute], resource: !variable /root-secret }\n",
      "Illegal absolute id: /root-secret",
    );
    await refused(
      "POST",
      "- !user me\n- !permit { role: !user me, privilege: read, resource: !variable ../root-secret }\n",
      "Invalid relative reference: team/../root-secret",
    );
    await refused("POST", "- !variable /planted\n", "Illegal absolute id: /planted");
    await refused("POST", "- !group ../planted\n", "Invalid relative reference: team/../planted");
    await refused("POST", "- !user ../admin\n", "Invalid relative reference: team/../admin");
    await refused("PATCH", "- !delete { record: !variable /root-secret }\n", "Illegal absolute id: /root-secret");
    await refused(
      "PATCH",
      "- !revoke { role: !group /admins, member: !user /admin }\n",
      "Illegal absolute id: /admins",
    );
    await refused(
      "PATCH",
      "- !deny { role: !user /admin, privilege: read, resource: !variable /root-secret }\n",
      "Illegal absolute id: /root-secret",
    );
    // A host factory joins its layers: hosts it enrols would get a root layer's privileges.
    await refused("POST", "- !host-factory { id: hf, layers: [ !layer /ops ] }\n", "Illegal absolute id: /ops");
    expect(await exists("variable", "planted")).to.equal(false);
    expect(await exists("variable", "root-secret")).to.equal(true);
    expect(await can("pol:user:admin", "read", "group", "admins")).to.equal(true);
    // Subjects inside, grantees anywhere: still allowed, as in Conjur.
    ok(
      await admin.loadPolicy(
        "POST",
        "team",
        "- !group crew\n- !variable shared\n- !grant { role: !group crew, member: !group /admins }\n- !permit { role: !group /admins, privilege: read, resource: !variable shared }\n",
      ),
    );
    expect(await can("pol:group:admins", "read", "variable", "team/shared")).to.equal(true);
  });

  it("gives transitive grants the privileges of the granted role (set-based check)", async () => {
    ok(
      await admin.loadPolicy(
        "POST",
        "root",
        "- !variable shared\n- !grant { role: !group devs, member: !group prod/readers }\n- !permit { role: !group devs, privilege: execute, resource: !variable shared }",
      ),
    );
    expect(await can("pol:host:prod/app", "execute", "variable", "shared")).to.equal(true);
    expect(await can("pol:user:bob@prod", "execute", "variable", "shared")).to.equal(false);
  });

  it("rejects deletion statements under POST with 422 and applies nothing", async () => {
    const res = await admin.loadPolicy(
      "POST",
      "root",
      "- !variable should-not-exist\n- !delete { record: !user alice }",
    );
    expect(res.status).to.equal(422);
    expect(res.json().error).to.include({
      code: "validation_failed",
      message: "policy_text may not contain deletion statements",
    });
    expect(await exists("variable", "should-not-exist")).to.equal(false);
  });

  it("rejects a bad policy whole with a 422 naming the line and the problem", async () => {
    const res = await admin.loadPolicy(
      "POST",
      "root",
      "- !variable fine\n- !group ok\n- !permit\n  role: !group ok\n  privilege: read\n  resource: !variable missing-thing\n",
    );
    expect(res.status).to.equal(422);
    expect(res.json().error.code).to.equal("policy_invalid");
    expect(res.json().error.message).to.equal("line 6, column 23: Variable 'missing-thing' not found in account 'pol'");
    expect(await exists("variable", "fine")).to.equal(false);

    const unknownTag = await admin.loadPolicy("POST", "root", "- !variable a\n- !secret b\n");
    expect(unknownTag.json().error.message).to.match(/^line 2, .*unknown tag !secret/);
    const badYaml = await admin.loadPolicy("POST", "root", "- !variable a\n  - : [\n");
    expect(badYaml.status).to.equal(422);
    expect(badYaml.json().error.innererror).to.include({ code: "policy_invalid" });
    const badField = await admin.loadPolicy("POST", "root", "- !variable { id: x, colour: red }\n");
    expect(badField.json().error.message).to.contain("unknown attribute 'colour' for !variable");
    const empty = await admin.loadPolicy("POST", "root", "");
    expect(empty.json().error).to.include({ code: "validation_failed", message: "policy_text is not present" });
    const blankInRoot = await admin.loadPolicy("POST", "root", "- !layer\n");
    expect(blankInRoot.json().error.message).to.contain("resource has a blank id");
  });

  it("refuses a record declared twice (also via two spellings of one id) with a 422 in every mode, never a 5xx", async () => {
    for (const mode of ["POST", "PUT", "PATCH"] as const) {
      for (const text of [
        "- !variable twice\n- !variable twice\n",
        "- !policy\n  id: dupdb\n  body:\n  - !variable x\n- !variable dupdb/x\n",
        "- !user twice-user\n- !group g\n- !user twice-user\n",
      ]) {
        const res = await admin.loadPolicy(mode, "root", text);
        expect(res.status, `${mode} ${JSON.stringify(text)}: ${res.text}`).to.equal(422);
        expect(res.json().error.code).to.equal("policy_invalid");
        expect(res.json().error.message).to.match(/^line \d+, column \d+: .* is declared more than once$/);
      }
    }
    expect(await exists("variable", "twice")).to.equal(false);
    // The same grant or permission twice is one fact, not an error (and never a 5xx). In a
    // policy of its own: a PUT replaces what it loads into.
    ok(await admin.loadPolicy("POST", "root", "- !policy dups\n"));
    for (const mode of ["POST", "PUT", "PATCH"] as const) {
      const res = await admin.loadPolicy(
        mode,
        "dups",
        `- !group g2
- !user u2
- !variable v2
- !grant { role: !group g2, members: [ !user u2, !user u2 ] }
- !grant { role: !group g2, member: !user u2 }
- !permit { role: !user u2, privileges: [ read, read, execute ], resources: [ !variable v2, !variable v2 ] }
- !permit { role: !user u2, privilege: read, resource: !variable v2 }
- !host { id: h2, restricted_to: [ 10.0.0.0/8, 10.0.0.0/8 ] }
- !user { id: u3, public_keys: [ "ssh-rsa AAAAB3NzaC1yc2E u3@laptop", "ssh-rsa AAAAB3NzaC1yc2E u3@laptop" ] }
`,
      );
      expect(res.status, `${mode}: ${res.text}`).to.equal(201);
    }
    expect(await can("pol:user:u2@dups", "execute", "variable", "dups/v2")).to.equal(true);
    // A mapping with one key twice is invalid YAML: a 422 naming it, not a 5xx.
    const twiceKey = await admin.loadPolicy("POST", "dups", "- !variable { id: dk, annotations: { a: 1, a: 2 } }\n");
    expect(twiceKey.status, twiceKey.text).to.equal(422);
  });

  it("PATCH updates annotations and allows deletions, keeping what it does not mention", async () => {
    ok(
      await admin.loadPolicy(
        "PATCH",
        "prod",
        `
- !variable { id: token, annotations: { rotation: daily } }
- !revoke { role: !group readers, member: !host app }
- !deny { role: !group readers, privilege: read, resource: !variable api-key }
- !delete { record: !webservice api }
`,
      ),
    );
    const token = (await admin.request("GET", `/resources/pol/variable/prod%2Ftoken`)).json();
    expect(token.annotations.find((a: { name: string }) => a.name === "rotation").value).to.equal("daily");
    expect(await can("pol:host:prod/app", "execute", "variable", "prod/api-key")).to.equal(false);
    expect(await can("pol:user:alice", "read", "variable", "prod/api-key")).to.equal(false);
    expect(await can("pol:user:alice", "execute", "variable", "prod/api-key")).to.equal(true);
    expect(await exists("webservice", "prod/api")).to.equal(false);
    expect(await exists("variable", "prod/db/password")).to.equal(true);
  });

  it("POST leaves existing records as they are", async () => {
    ok(await admin.loadPolicy("POST", "prod", "- !variable { id: token, annotations: { rotation: never } }"));
    const token = (await admin.request("GET", `/resources/pol/variable/prod%2Ftoken`)).json();
    expect(token.annotations.find((a: { name: string }) => a.name === "rotation").value).to.equal("daily");
  });

  it("PUT replaces: what the new text omits is deleted, with its grants, permissions and secrets", async () => {
    ok(await admin.setSecret("prod/api-key", "k"));
    const res = ok(
      await admin.loadPolicy(
        "PUT",
        "prod",
        `
- !variable api-key
- !host app
- !group readers
- !permit { role: !group readers, privilege: execute, resource: !variable api-key }
`,
      ),
    );
    expect(res.json().created_roles).to.deep.equal({});
    expect(await exists("variable", "prod/api-key")).to.equal(true);
    expect((await admin.getSecret("prod/api-key")).text).to.equal("k");
    expect(await exists("variable", "prod/token")).to.equal(false);
    expect(await exists("variable", "prod/db/password")).to.equal(false);
    expect(await exists("user", "bob@prod")).to.equal(false);
    expect(await exists("layer", "prod")).to.equal(false);
    expect(await can("pol:user:alice", "execute", "variable", "prod/api-key")).to.equal(false);
    expect(await exists("user", "alice")).to.equal(true);
  });

  it("PUT on root deletes nested policies it no longer declares, but never the admin or root", async () => {
    ok(await admin.loadPolicy("PUT", "root", "- !user alice\n- !group devs\n"));
    expect(await exists("policy", "prod")).to.equal(false);
    expect(await exists("host", "prod/app")).to.equal(false);
    expect(await exists("user", "alice")).to.equal(true);
    expect(await exists("user", "admin")).to.equal(true);
    expect(await exists("policy", "root")).to.equal(true);
  });

  it("counts versions per policy", async () => {
    const res = ok(await admin.loadPolicy("PATCH", "root", "- !user carol"));
    expect(res.json().version).to.be.greaterThan(1);
  });

  it("needs create for POST and update for PATCH/PUT; 404 for an invisible policy", async () => {
    const created = ok(
      await admin.loadPolicy(
        "POST",
        "root",
        `
- !user dave
- !policy
  id: team
  body: []
- !permit { role: !user dave, privilege: create, resource: !policy team }
`,
      ),
    );
    const dave = await new Client(server.url, "pol").login(
      "dave",
      created.json().created_roles["pol:user:dave"].api_key,
    );
    ok(await dave.loadPolicy("POST", "team", "- !variable mine"));
    expect((await dave.loadPolicy("PATCH", "team", "- !variable mine")).status).to.equal(403);
    expect((await dave.loadPolicy("POST", "root", "- !variable nope")).status).to.equal(404);
    expect((await dave.loadPolicy("POST", "nowhere", "- !variable nope")).status).to.equal(404);
  });
});
