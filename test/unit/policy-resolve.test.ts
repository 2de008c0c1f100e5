import { expect } from "chai";
import { ApiError } from "../../src/errors.js";
import { parsePolicy } from "../../src/policy/parse.js";
import { resolvePolicy, type Plan, type PlannedRecord } from "../../src/policy/resolve.js";

/** Loading into root: as load-policy.ts builds it (the root policy's owner owns what it declares). */
const ROOT = { account: "acme", namespace: "", owner: "acme:user:admin", policy: "acme:policy:root" };
/** Loading into a non-root policy (`conjur policy load -b apps/billing`). */
const into = (path: string) => ({
  account: "acme",
  namespace: path,
  owner: `acme:policy:${path}`,
  policy: `acme:policy:${path}`,
});

const resolve = (text: string, scope = ROOT): Plan => resolvePolicy(parsePolicy(text), scope);
const ids = (plan: Plan): string[] => plan.records.map((r) => r.id);
const record = (plan: Plan, id: string) => {
  const found = plan.records.find((r) => r.id === id);
  expect(found, `${id} in ${JSON.stringify(ids(plan))}`).not.to.equal(undefined);
  return found as PlannedRecord;
};

function refusal(text: string, scope = ROOT): ApiError {
  try {
    resolve(text, scope);
  } catch (err) {
    expect(err).to.be.instanceOf(ApiError);
    expect((err as ApiError).status).to.equal(422);
    return err as ApiError;
  }
  return expect.fail("resolvePolicy should have thrown");
}

describe("unit: resolvePolicy (statements → plan)", () => {
  describe("naming", () => {
    it("qualifies root ids with account and kind, as written", () => {
      const plan = resolve("- !variable db/password\n- !host app\n- !group admins\n- !webservice svc\n");
      expect(ids(plan)).to.deep.equal([
        "acme:variable:db/password",
        "acme:host:app",
        "acme:group:admins",
        "acme:webservice:svc",
      ]);
    });

    it("qualifies ids by the enclosing policy, at any depth", () => {
      const plan = resolve(
        [
          "- !policy",
          "  id: db",
          "  body:",
          "  - !variable password",
          "  - !host replica",
          "  - !policy",
          "    id: backups",
          "    body:",
          "    - !variable key",
          "    - !webservice s3",
        ].join("\n"),
      );
      expect(ids(plan)).to.deep.equal([
        "acme:policy:db",
        "acme:variable:db/password",
        "acme:host:db/replica",
        "acme:policy:db/backups",
        "acme:variable:db/backups/key",
        "acme:webservice:db/backups/s3",
      ]);
    });

    it("qualifies ids by the policy loaded into", () => {
      const plan = resolve(
        "- !variable token\n- !policy\n  id: jobs\n  body:\n  - !host runner\n",
        into("apps/billing"),
      );
      expect(ids(plan)).to.deep.equal([
        "acme:variable:apps/billing/token",
        "acme:policy:apps/billing/jobs",
        "acme:host:apps/billing/jobs/runner",
      ]);
    });

    it("names users inside a policy name@policy-path, '/' becoming '-' (Conjur's rule); at root, as written", () => {
      const plan = resolve(
        "- !user root-user\n- !policy\n  id: db\n  body:\n  - !user alice\n  - !policy\n    id: inner\n    body:\n    - !user bob\n",
      );
      expect(ids(plan).filter((id) => id.startsWith("acme:user:"))).to.deep.equal([
        "acme:user:root-user",
        "acme:user:alice@db",
        "acme:user:bob@db-inner",
      ]);
      expect(ids(resolve("- !user carol", into("apps/billing")))).to.deep.equal(["acme:user:carol@apps-billing"]);
    });

    it("in references, a leading '/' is absolute and '../' climbs one policy per step", () => {
      const plan = resolve(
        [
          "- !policy",
          "  id: a",
          "  body:",
          "  - !policy",
          "    id: b",
          "    body:",
          "    - !group g",
          "    - !grant",
          "      role: !group g",
          "      members: [!host /top, !host ../up-one, !host ../../up-two, !user ../alice, !user /bob]",
        ].join("\n"),
      );
      expect(plan.grants.filter((g) => !g.ownership).map((g) => g.member)).to.deep.equal([
        "acme:host:top",
        "acme:host:a/up-one",
        "acme:host:up-two",
        "acme:user:alice@a",
        "acme:user:bob",
      ]);
    });

    it("a record without id is the enclosing policy itself (a policy's !layer, !webservice)", () => {
      const plan = resolve("- !policy\n  id: conjur/authn-jwt/k8s\n  body:\n  - !webservice\n  - !layer\n");
      expect(ids(plan)).to.deep.equal([
        "acme:policy:conjur/authn-jwt/k8s",
        "acme:webservice:conjur/authn-jwt/k8s",
        "acme:layer:conjur/authn-jwt/k8s",
      ]);
      expect(ids(resolve("- !layer", into("apps")))).to.deep.equal(["acme:layer:apps"]);
    });

    it("refuses a blank id at root, and a '../' above root, with the position", () => {
      const blank = refusal("- !variable a\n- !variable\n  kind: password\n");
      expect(blank.message).to.match(/^line 3, column 3: resource has a blank id/);
      const above = refusal("- !policy\n  id: a\n  body:\n  - !grant\n    role: !group g\n    member: !user ../../x\n");
      expect(above.message).to.match(/^line 6, column 19: '\.\.\/\.\.\/x' climbs above the root policy/);
      expect(refusal("- !grant { role: !group g, member: !host ../../x }", into("apps")).message).to.match(
        /climbs above the root policy/,
      );
      expect(
        refusal("- !permit { role: !user ../../a, privilege: read, resource: !variable x }", into("apps")).message,
      ).to.match(/'\.\.\/\.\.\/a' climbs above the root policy/);
    });

    it("refuses an id that is too long once qualified by its policy", () => {
      const err = refusal(`- !variable ${"x".repeat(1020)}`, into("apps/billing"));
      expect(err.message).to.match(/identifier is longer than 1024 bytes/);
      expect(ids(resolve(`- !variable ${"x".repeat(1020)}`))).to.have.length(1);
    });
  });

  describe("owners", () => {
    it("records are owned by the enclosing policy, top-level ones by the owner of the policy loaded into", () => {
      const plan = resolve("- !variable v\n- !policy\n  id: db\n  body:\n  - !variable password\n");
      expect(record(plan, "acme:variable:v")).to.include({ owner: "acme:user:admin", policy: "acme:policy:root" });
      expect(record(plan, "acme:policy:db")).to.include({ owner: "acme:user:admin", policy: "acme:policy:root" });
      expect(record(plan, "acme:variable:db/password")).to.include({
        owner: "acme:policy:db",
        policy: "acme:policy:db",
      });
      expect(record(resolve("- !variable v", into("apps")), "acme:variable:apps/v")).to.include({
        owner: "acme:policy:apps",
        policy: "acme:policy:apps",
      });
    });

    it("an explicit owner resolves relative to the policy it is written in", () => {
      const plan = resolve(
        "- !policy\n  id: db\n  owner: !group /dba\n  body:\n  - !group admins\n  - !variable { id: password, owner: !group admins }\n",
      );
      expect(record(plan, "acme:policy:db").owner).to.equal("acme:group:dba");
      expect(record(plan, "acme:variable:db/password").owner).to.equal("acme:group:db/admins");
      // The body's default owner is the policy itself, not the policy's owner.
      expect(record(plan, "acme:group:db/admins").owner).to.equal("acme:policy:db");
    });

    it("the owner of a role is its admin member (an ownership grant); resources get no grant", () => {
      const plan = resolve(
        "- !group { id: g, owner: !user alice }\n- !host h\n- !variable v\n- !webservice w\n- !policy p\n- !layer l\n",
      );
      expect(plan.grants).to.deep.equal(
        ["acme:group:g", "acme:host:h", "acme:policy:p", "acme:layer:l"].map((role) => ({
          role,
          member: role === "acme:group:g" ? "acme:user:alice" : "acme:user:admin",
          admin: true,
          ownership: true,
          policy: "acme:policy:root",
        })),
      );
    });
  });

  describe("grants and permissions", () => {
    it("!grant resolves role and members relative to its policy, with admin from !member", () => {
      const plan = resolve(
        [
          "- !policy",
          "  id: db",
          "  body:",
          "  - !group readers",
          "  - !user alice",
          "  - !grant",
          "    role: !group readers",
          "    members:",
          "    - !user alice",
          "    - !host /ci/runner",
          "    - !member { role: !group ../ops, admin: true }",
        ].join("\n"),
      );
      expect(plan.grants.filter((g) => !g.ownership)).to.deep.equal([
        {
          role: "acme:group:db/readers",
          member: "acme:user:alice@db",
          admin: false,
          ownership: false,
          policy: "acme:policy:db",
        },
        {
          role: "acme:group:db/readers",
          member: "acme:host:ci/runner",
          admin: false,
          ownership: false,
          policy: "acme:policy:db",
        },
        {
          role: "acme:group:db/readers",
          member: "acme:group:ops",
          admin: true,
          ownership: false,
          policy: "acme:policy:db",
        },
      ]);
    });

    it("keeps an explicit grant after the ownership grant of the same pair (the later one wins when applied)", () => {
      const plan = resolve(
        "- !group { id: g, owner: !user alice }\n- !grant { role: !group g, member: !member { role: !user alice, admin: false } }\n",
      );
      expect(plan.grants.map((g) => [g.role, g.member, g.admin, g.ownership])).to.deep.equal([
        ["acme:group:g", "acme:user:alice", true, true],
        ["acme:group:g", "acme:user:alice", false, false],
      ]);
    });

    it("!permit gives every role every privilege on every resource, relative to its policy", () => {
      const plan = resolve(
        [
          "- !policy",
          "  id: app",
          "  body:",
          "  - !variable a",
          "  - !variable b",
          "  - !layer",
          "  - !permit",
          "    roles: [!layer, !user dev]",
          "    privileges: [read, execute]",
          "    resources: [!variable a, !variable b]",
        ].join("\n"),
      );
      const rows = plan.permits.map((p) => `${p.role} ${p.privilege} ${p.resource}`);
      expect(rows).to.have.members([
        "acme:layer:app read acme:variable:app/a",
        "acme:layer:app execute acme:variable:app/a",
        "acme:layer:app read acme:variable:app/b",
        "acme:layer:app execute acme:variable:app/b",
        "acme:user:dev@app read acme:variable:app/a",
        "acme:user:dev@app execute acme:variable:app/a",
        "acme:user:dev@app read acme:variable:app/b",
        "acme:user:dev@app execute acme:variable:app/b",
      ]);
      expect(rows).to.have.length(8);
      expect(plan.permits.every((p) => p.policy === "acme:policy:app")).to.equal(true);
    });

    it("!deny, !revoke and !delete resolve like the statements they undo", () => {
      const plan = resolve(
        [
          "- !deny { role: !host h, privileges: [read, update], resource: !variable v }",
          "- !revoke { role: !group g, members: [!user u, !host h] }",
          "- !delete { records: [!variable old, !user gone] }",
        ].join("\n"),
        into("apps"),
      );
      expect(plan.denies).to.deep.equal([
        { privilege: "read", resource: "acme:variable:apps/v", role: "acme:host:apps/h" },
        { privilege: "update", resource: "acme:variable:apps/v", role: "acme:host:apps/h" },
      ]);
      expect(plan.revokes).to.deep.equal([
        { role: "acme:group:apps/g", member: "acme:user:u@apps" },
        { role: "acme:group:apps/g", member: "acme:host:apps/h" },
      ]);
      expect(plan.deletes).to.deep.equal(["acme:variable:apps/old", "acme:user:gone@apps"]);
      expect(plan.records).to.deep.equal([]);
      expect(plan.grants).to.deep.equal([]);
      expect(plan.permits).to.deep.equal([]);
    });

    it("a host factory becomes a member of each of its layers, which must lie inside its policy", () => {
      const plan = resolve(
        "- !policy\n  id: ci\n  body:\n  - !layer runners\n  - !layer builders\n  - !host-factory { id: hf, layers: [!layer runners, !layer builders] }\n",
      );
      expect(record(plan, "acme:host_factory:ci/hf").owner).to.equal("acme:policy:ci");
      expect(plan.grants.filter((g) => !g.ownership)).to.deep.equal(
        ["runners", "builders"].map((layer) => ({
          role: `acme:layer:ci/${layer}`,
          member: "acme:host_factory:ci/hf",
          admin: false,
          ownership: false,
          policy: "acme:policy:ci",
        })),
      );
      // Joining a layer outside would give every host it enrols that layer's privileges.
      expect(
        refusal("- !policy\n  id: ci\n  body:\n  - !host-factory { id: hf, layers: [!layer /shared] }\n").message,
      ).to.match(/Illegal absolute id: \/shared$/);
    });
  });

  describe("what records carry", () => {
    it("annotations, restricted_to (absent when not written) and the user's public keys", () => {
      const plan = resolve(
        [
          "- !variable { id: cert, kind: certificate, annotations: { team: pki } }",
          "- !host { id: h, restricted_to: [10.0.0.1, 10.1.0.0/16] }",
          "- !host plain",
          "- !user { id: u, public_keys: [ssh-rsa AAAA laptop, ssh-ed25519 BBBB phone] }",
        ].join("\n"),
        into("ops"),
      );
      expect(record(plan, "acme:variable:ops/cert").annotations).to.deep.equal({
        team: "pki",
        "conjur/kind": "certificate",
      });
      expect(record(plan, "acme:host:ops/h").restrictedTo).to.deep.equal(["10.0.0.1/32", "10.1.0.0/16"]);
      expect(record(plan, "acme:host:ops/plain").restrictedTo).to.equal(undefined);
      expect(plan.publicKeys).to.deep.equal([
        { resource: "acme:public_key:user/u@ops/laptop", value: "ssh-rsa AAAA laptop" },
        { resource: "acme:public_key:user/u@ops/phone", value: "ssh-ed25519 BBBB phone" },
      ]);
      expect(record(plan, "acme:public_key:user/u@ops/laptop")).to.include({
        kind: "public_key",
        owner: "acme:policy:ops",
        policy: "acme:policy:ops",
      });
    });
  });

  describe("duplicates", () => {
    it("keeps repeated statements as written (the writes are idempotent)", () => {
      const plan = resolve(
        "- !permit { role: !host h, privilege: read, resource: !variable v }\n- !permit { role: !host h, privilege: [read, execute], resource: !variable v }\n",
      );
      expect(plan.permits.map((p) => p.privilege)).to.deep.equal(["read", "read", "execute"]);
    });

    // Two rows for one id would also make PUT/PATCH touch a row twice in one upsert (a 500).
    it("refuses a record declared twice (Conjur: 'is declared more than once')", () => {
      for (const text of [
        "- !variable a\n- !variable a\n",
        "- !variable db/x\n- !policy\n  id: db\n  body:\n  - !variable x\n",
        "- !user alice\n- !user { id: alice, annotations: { a: b } }\n",
      ]) {
        const err = refusal(text);
        expect(err.message, text).to.match(/declared more than once/);
      }
      // Different kinds may share an identifier.
      expect(ids(resolve("- !variable a\n- !webservice a\n"))).to.have.length(2);
    });
  });

  describe("references (checked against the database by the load, not here)", () => {
    it("lists every id referenced, declared or not, with where it was first written", () => {
      const plan = resolve(
        [
          "- !variable v",
          "- !permit { role: !host nowhere, privilege: read, resource: !variable v }",
          "- !grant { role: !group missing, member: !host nowhere }",
        ].join("\n"),
      );
      expect([...plan.references.keys()]).to.have.members([
        "acme:host:nowhere",
        "acme:variable:v",
        "acme:group:missing",
      ]);
      expect(plan.references.get("acme:host:nowhere")).to.deep.include({ kind: "host", id: "nowhere" });
      expect(plan.references.get("acme:host:nowhere")?.at.line).to.equal(2);
      expect(plan.references.get("acme:group:missing")?.at.line).to.equal(3);
      // Resolving does not reject them: the load does, naming that position.
      expect(plan.permits).to.have.length(1);
      expect(plan.grants.filter((g) => !g.ownership)).to.have.length(1);
    });

    it("lists explicit owners and host-factory layers; ids only declared are not references", () => {
      const plan = resolve(
        "- !layer web\n- !variable { id: v, owner: !group g }\n- !host-factory { id: hf, layers: [!layer web] }\n",
      );
      expect([...plan.references.keys()]).to.have.members(["acme:group:g", "acme:layer:web"]);
      expect(plan.references.has("acme:variable:v")).to.equal(false);
    });
  });
});
