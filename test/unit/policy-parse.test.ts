import { expect } from "chai";
import { ApiError } from "../../src/errors.js";
import { LIMITS } from "../../src/input/limits.js";
import { parsePolicy } from "../../src/policy/parse.js";
import type {
  DeleteStatement,
  GrantStatement,
  PermitStatement,
  RecordStatement,
  Statement,
} from "../../src/policy/statements.js";

/** The statements without their source positions (asserted separately where they matter). */
function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => k !== "at")
        .map(([k, v]) => [k, strip(v)]),
    );
  return value;
}

const parsed = (text: string): unknown => strip(parsePolicy(text));
const one = <T extends Statement>(text: string): T => {
  const statements = parsePolicy(text);
  expect(statements).to.have.length(1);
  return statements[0] as T;
};

/** The 422 a bad policy gets: code policy_invalid, the message, and where (when the parser knows). */
function refusal(text: string): { message: string; line?: number; column?: number } {
  let caught: unknown;
  try {
    parsePolicy(text);
  } catch (err) {
    caught = err;
  }
  expect(caught, "parsePolicy should have thrown").to.be.instanceOf(ApiError);
  const err = caught as ApiError;
  expect(err.status).to.equal(422);
  expect(err.body?.error.code).to.equal("policy_invalid");
  const inner = err.body?.error.innererror as { line: number; column: number } | undefined;
  if (inner) expect(err.message).to.match(new RegExp(`^line ${inner.line}, column ${inner.column}: `));
  return { message: err.message, ...(inner ? { line: inner.line, column: inner.column } : {}) };
}

describe("unit: parsePolicy (Conjur policy YAML → statements)", () => {
  describe("records", () => {
    it("reads the short form of every record tag as kind and id", () => {
      const text = [
        "- !user alice",
        "- !host app",
        "- !group admins",
        "- !layer web",
        "- !variable db/password",
        "- !webservice svc",
        "- !policy apps",
      ].join("\n");
      expect(parsed(text)).to.deep.equal([
        { type: "record", kind: "user", id: "alice", annotations: {} },
        { type: "record", kind: "host", id: "app", annotations: {} },
        { type: "record", kind: "group", id: "admins", annotations: {} },
        { type: "record", kind: "layer", id: "web", annotations: {} },
        { type: "record", kind: "variable", id: "db/password", annotations: {} },
        { type: "record", kind: "webservice", id: "svc", annotations: {} },
        { type: "record", kind: "policy", id: "apps", annotations: {} },
      ]);
    });

    it("reads the mapping form, block or flow, with owner and annotations", () => {
      const block = "- !variable\n  id: db/password\n  owner: !group admins\n  annotations:\n    team: payments\n";
      const flow = "- !variable { id: db/password, owner: !group admins, annotations: { team: payments } }";
      for (const text of [block, flow])
        expect(parsed(text), text).to.deep.equal([
          {
            type: "record",
            kind: "variable",
            id: "db/password",
            owner: { kind: "group", id: "admins" },
            annotations: { team: "payments" },
          },
        ]);
    });

    it("keeps annotation values as strings, whatever YAML type they were written as", () => {
      const r = one<RecordStatement>("- !host { id: h, annotations: { port: 5432, enabled: true, empty: } }");
      expect(r.annotations).to.deep.equal({ port: "5432", enabled: "true", empty: "" });
    });

    it("takes a numeric id as its text", () => {
      expect(one<RecordStatement>("- !user { id: 42 }").id).to.equal("42");
    });

    it("turns a variable's kind and mime_type into conjur/ annotations", () => {
      const r = one<RecordStatement>("- !variable { id: cert, kind: certificate, mime_type: application/x-pem-file }");
      expect(r.annotations).to.deep.equal({
        "conjur/kind": "certificate",
        "conjur/mime_type": "application/x-pem-file",
      });
    });

    it("keeps uidnumber/gidnumber as conjur/ annotations, normalised, an explicit annotation winning", () => {
      expect(one<RecordStatement>("- !user { id: u, uidnumber: 0012 }").annotations).to.deep.equal({
        "conjur/uidnumber": "12",
      });
      expect(
        one<RecordStatement>('- !group { id: g, gidnumber: 7, annotations: { conjur/gidnumber: "9" } }').annotations,
      ).to.deep.equal({ "conjur/gidnumber": "9" });
      expect(refusal("- !user { id: u, uidnumber: 12x }").message).to.match(/uidnumber must be an integer/);
    });

    it("leaves a missing id blank (the enclosing policy itself; the resolver decides)", () => {
      expect(parsed("- !layer\n- !webservice\n  annotations: { a: b }\n")).to.deep.equal([
        { type: "record", kind: "layer", id: "", annotations: {} },
        { type: "record", kind: "webservice", id: "", annotations: { a: "b" } },
      ]);
    });

    it("reads a !policy body as nested statements, with their own positions", () => {
      const text = [
        "- !policy",
        "  id: db",
        "  owner: !group dba",
        "  body:",
        "  - !variable password",
        "  - !permit",
        "    role: !host app",
        "    privilege: read",
        "    resource: !variable password",
      ].join("\n");
      const p = one<RecordStatement>(text);
      expect(strip(p)).to.deep.equal({
        type: "record",
        kind: "policy",
        id: "db",
        owner: { kind: "group", id: "dba" },
        annotations: {},
        body: [
          { type: "record", kind: "variable", id: "password", annotations: {} },
          {
            type: "permit",
            roles: [{ kind: "host", id: "app" }],
            privileges: ["read"],
            resources: [{ kind: "variable", id: "password" }],
          },
        ],
      });
      expect(p.at.line).to.equal(2);
      expect(p.body?.map((s) => s.at.line)).to.deep.equal([5, 7]);
    });

    it("reads a !policy without body, or with an empty one, as a policy with no statements", () => {
      expect(one<RecordStatement>("- !policy { id: p }").body).to.deep.equal([]);
      expect(one<RecordStatement>("- !policy { id: p, body: [] }").body).to.deep.equal([]);
      expect(refusal("- !policy { id: p, body: !variable x }").message).to.match(
        /a policy must be a list of records and statements/,
      );
    });

    it("reads a !host-factory with its layers, and refuses one without", () => {
      expect(parsed("- !host-factory { id: hf, layers: [!layer web, !layer db] }")).to.deep.equal([
        {
          type: "record",
          kind: "host_factory",
          id: "hf",
          annotations: {},
          layers: [
            { kind: "layer", id: "web" },
            { kind: "layer", id: "db" },
          ],
        },
      ]);
      expect(parsed("- !host-factory { id: hf, layers: !layer web }")).to.have.nested.property(
        "[0].layers[0].id",
        "web",
      );
      expect(refusal("- !host-factory { id: hf }").message).to.match(/Host factory 'hf' does not include any layers/);
      expect(refusal("- !host-factory hf").message).to.match(/Host factory 'hf' does not include any layers/);
    });

    it("normalises restricted_to to CIDRs, once each; absent stays absent", () => {
      expect(
        one<RecordStatement>("- !user { id: u, restricted_to: [10.0.0.1, 10.0.0.0/8, 10.0.0.1/32] }").restrictedTo,
      ).to.deep.equal(["10.0.0.1/32", "10.0.0.0/8"]);
      expect(one<RecordStatement>("- !host { id: h, restricted_to: 192.168.1.0/24 }").restrictedTo).to.deep.equal([
        "192.168.1.0/24",
      ]);
      expect(one<RecordStatement>("- !host { id: h, restricted_to: [] }").restrictedTo).to.deep.equal([]);
      expect(one<RecordStatement>("- !host h")).not.to.have.property("restrictedTo");
      expect(refusal("- !user { id: u, restricted_to: nonsense }").message).to.match(/nonsense/);
    });

    it("reads a user's public keys, one or many, and refuses a malformed one", () => {
      expect(one<RecordStatement>("- !user { id: u, public_key: ssh-rsa AAAA laptop }").publicKeys).to.deep.equal([
        "ssh-rsa AAAA laptop",
      ]);
      expect(
        one<RecordStatement>("- !user { id: u, public_keys: [ssh-rsa AAAA laptop, ssh-ed25519 BBBB phone] }")
          .publicKeys,
      ).to.deep.equal(["ssh-rsa AAAA laptop", "ssh-ed25519 BBBB phone"]);
      expect(refusal('- !user { id: u, public_keys: [ssh-rsa AAAA laptop, "just-one-word"] }').message).to.match(
        /Invalid public key format/,
      );
      const many = Array.from({ length: 101 }, (_, i) => `ssh-rsa K${i} k${i}`).join(", ");
      expect(refusal(`- !user { id: u, public_keys: [${many}] }`).message).to.match(/at most 100 public keys/);
    });
  });

  describe("statements", () => {
    it("reads !grant with one member, or many, and !member with admin", () => {
      expect(parsed("- !grant\n  role: !group admins\n  member: !user alice\n")).to.deep.equal([
        {
          type: "grant",
          role: { kind: "group", id: "admins" },
          members: [{ ref: { kind: "user", id: "alice" }, admin: false }],
        },
      ]);
      const g = one<GrantStatement>(
        "- !grant { role: !layer web, members: [!host a, !host b, !member { role: !group ops, admin: true }] }",
      );
      expect(strip(g.members)).to.deep.equal([
        { ref: { kind: "host", id: "a" }, admin: false },
        { ref: { kind: "host", id: "b" }, admin: false },
        { ref: { kind: "group", id: "ops" }, admin: true },
      ]);
    });

    it("reads !revoke like !grant", () => {
      expect(parsed("- !revoke { role: !group admins, member: !user alice }")).to.deep.equal([
        {
          type: "revoke",
          role: { kind: "group", id: "admins" },
          members: [{ ref: { kind: "user", id: "alice" }, admin: false }],
        },
      ]);
    });

    it("reads !permit with singular or plural keys, one value or a list, on each side", () => {
      const singular = one<PermitStatement>("- !permit { role: !host app, privilege: read, resource: !variable x }");
      expect(strip(singular)).to.deep.equal({
        type: "permit",
        roles: [{ kind: "host", id: "app" }],
        privileges: ["read"],
        resources: [{ kind: "variable", id: "x" }],
      });
      const plural = one<PermitStatement>(
        "- !permit\n  roles: [!host a, !layer web]\n  privileges: [read, execute]\n  resources: [!variable x, !variable y]\n",
      );
      expect(strip(plural)).to.deep.equal({
        type: "permit",
        roles: [
          { kind: "host", id: "a" },
          { kind: "layer", id: "web" },
        ],
        privileges: ["read", "execute"],
        resources: [
          { kind: "variable", id: "x" },
          { kind: "variable", id: "y" },
        ],
      });
      // Conjur's policies often mix the forms: a singular key holding a list.
      expect(
        one<PermitStatement>("- !permit { role: !host a, privilege: [read, execute], resource: !variable x }")
          .privileges,
      ).to.deep.equal(["read", "execute"]);
    });

    it("reads !deny like !permit", () => {
      expect(parsed("- !deny { role: !user a, privileges: [update], resource: !variable x }")).to.deep.equal([
        {
          type: "deny",
          roles: [{ kind: "user", id: "a" }],
          privileges: ["update"],
          resources: [{ kind: "variable", id: "x" }],
        },
      ]);
    });

    it("reads !delete with one record or many", () => {
      expect(parsed("- !delete { record: !variable old }")).to.deep.equal([
        { type: "delete", records: [{ kind: "variable", id: "old" }] },
      ]);
      expect(strip(one<DeleteStatement>("- !delete\n  records: [!user a, !host b]\n").records)).to.deep.equal([
        { kind: "user", id: "a" },
        { kind: "host", id: "b" },
      ]);
    });

    it("references keep the kind of their tag, record-style maps and blank ids included", () => {
      const p = one<PermitStatement>(
        "- !permit { role: !host-factory hf, privilege: execute, resources: [!webservice, !policy { id: apps }] }",
      );
      expect(strip(p.roles)).to.deep.equal([{ kind: "host_factory", id: "hf" }]);
      expect(strip(p.resources)).to.deep.equal([
        { kind: "webservice", id: "" },
        { kind: "policy", id: "apps" },
      ]);
    });

    it("notes where each statement and reference was written (1-based line and column)", () => {
      const text = "- !variable a\n- !grant\n  role: !group g\n  member: !user u\n";
      const [record, grant] = parsePolicy(text) as [RecordStatement, GrantStatement];
      expect(record.at).to.deep.equal({ line: 1, column: 13 });
      expect(grant.at.line).to.equal(3);
      expect(grant.role.at).to.deep.equal({ line: 3, column: 16 });
      expect(grant.members.map((m) => m.ref.at)).to.deep.equal([{ line: 4, column: 17 }]);
    });
  });

  describe("YAML structure", () => {
    it("reads an empty document, or one of comments only, as no statements", () => {
      expect(parsePolicy("")).to.deep.equal([]);
      expect(parsePolicy("# nothing yet\n")).to.deep.equal([]);
    });

    it("flattens nested lists, as Conjur does", () => {
      expect(parsed("- - !variable a\n  - !variable b\n- !variable c\n")).to.deep.equal([
        { type: "record", kind: "variable", id: "a", annotations: {} },
        { type: "record", kind: "variable", id: "b", annotations: {} },
        { type: "record", kind: "variable", id: "c", annotations: {} },
      ]);
    });

    it("follows anchors and aliases, including a record used as a reference", () => {
      const text = "- &db !variable db/password\n- !permit { role: !host app, privilege: read, resource: *db }\n";
      expect(parsed(text)).to.deep.equal([
        { type: "record", kind: "variable", id: "db/password", annotations: {} },
        {
          type: "permit",
          roles: [{ kind: "host", id: "app" }],
          privileges: ["read"],
          resources: [{ kind: "variable", id: "db/password" }],
        },
      ]);
      const shared = "- &readers [!host a, !host b]\n- !grant { role: !layer web, members: *readers }\n";
      expect(strip((parsePolicy(shared)[2] as GrantStatement).members)).to.deep.equal([
        { ref: { kind: "host", id: "a" }, admin: false },
        { ref: { kind: "host", id: "b" }, admin: false },
      ]);
    });
  });

  describe("errors: 422 policy_invalid naming the problem and where", () => {
    it("malformed YAML, at the line the YAML parser names", () => {
      const r = refusal("- !variable a\n- !variable { id: b\n- !variable c\n");
      expect(r.line).to.be.a("number").and.to.be.at.least(2);
      expect(r.message).to.match(/Flow map/);
    });

    it("a key written twice (Conjur refuses duplicate annotations too)", () => {
      const r = refusal("- !variable\n  id: x\n  annotations:\n    team: a\n    team: b\n");
      expect(r.message).to.match(/Map keys must be unique/);
      expect(r.line).to.equal(5);
    });

    it("an unknown tag, named, on its line", () => {
      const r = refusal("- !variable a\n- !variable b\n- !secret c\n");
      expect(r.message).to.match(/unknown tag !secret/);
      expect(r.line).to.equal(3);
    });

    it("an item without a tag", () => {
      expect(refusal("- !variable a\n- id: b\n").message).to.match(
        /expected a tagged record or statement such as !variable or !permit/,
      );
      expect(refusal("- plain-string").line).to.equal(1);
    });

    it("a document that is not a list", () => {
      expect(refusal("variable: x").message).to.match(/a policy must be a list of records and statements/);
      expect(refusal("!variable x").message).to.match(/a policy must be a list/);
    });

    it("an attribute the record or statement does not have, named, at its key", () => {
      const r = refusal("- !variable\n  id: x\n  colour: red\n");
      expect(r.message).to.match(/unknown attribute 'colour' for !variable/);
      expect(r).to.include({ line: 3, column: 3 });
      expect(refusal("- !host { id: h, kind: x }").message).to.match(/unknown attribute 'kind' for !host/);
      expect(
        refusal("- !permit { role: !user a, privilege: read, resource: !variable x, admin: true }").message,
      ).to.match(/unknown attribute 'admin' for !permit/);
      expect(refusal("- !grant { role: !group g, member: !member { role: !user a, owner: true } }").message).to.match(
        /unknown attribute 'owner' for !member/,
      );
    });

    it("a required attribute missing, named", () => {
      expect(refusal("- !grant { role: !group g }").message).to.match(/'member' is required/);
      expect(refusal("- !permit { role: !user a, privilege: read }").message).to.match(/'resource' is required/);
      expect(refusal("- !permit { role: !user a, resource: !variable x }").message).to.match(/'privilege' is required/);
      expect(refusal("- !permit { privilege: read, resource: !variable x }").message).to.match(/'role' is required/);
      expect(refusal("- !delete {}").message).to.match(/'record' is required/);
      expect(refusal("- !grant { member: !user a }").message).to.match(/'role' must be a tagged reference/);
    });

    it("a reference written without its kind tag", () => {
      const r = refusal("- !grant\n  role: admins\n  member: !user bob\n");
      expect(r.message).to.match(/'role' must be a tagged reference such as !group name/);
      expect(r).to.include({ line: 2, column: 9 });
      expect(refusal("- !variable { id: a, owner: bob }").message).to.match(/'owner' must be a tagged reference/);
      expect(refusal("- !permit { role: !user a, privilege: read, resource: !grant {} }").message).to.match(
        /'resource' must be a tagged reference/,
      );
    });

    it("values of the wrong type", () => {
      expect(refusal("- !variable { id: [a, b] }").message).to.match(/id must be a string/);
      expect(refusal("- !variable { id: { x: y } }").message).to.match(/id must be a string/);
      expect(refusal("- !variable { id: a, annotations: [x] }").message).to.match(/annotations must be a map/);
      expect(refusal("- !grant !group g").message).to.match(/at most one tag/);
      expect(refusal("- !grant admins").message).to.match(/!grant needs attributes/);
      expect(refusal("- !permit read").message).to.match(/!permit needs attributes/);
      expect(refusal("- !grant { role: !group g, member: !member alice }").message).to.match(
        /!member needs 'role' and optional 'admin'/,
      );
    });

    it("empty or blank privileges and empty lists", () => {
      expect(refusal('- !permit { role: !user a, privilege: "", resource: !variable x }').message).to.match(
        /privilege may not be blank/,
      );
      expect(refusal("- !permit { role: !user a, privileges: [], resource: !variable x }").message).to.match(
        /'privilege' may not be empty/,
      );
      expect(refusal("- !permit { role: !user a, privilege: read, resources: [] }").message).to.match(
        /'resource' may not be empty/,
      );
    });

    it("an alias to no anchor", () => {
      expect(refusal("- !variable a\n- *nope\n")).to.include({ line: 2 });
      expect(refusal("- *nope").message).to.match(/unknown alias \*nope/);
    });
  });

  describe("bounds (src/input/limits.ts)", () => {
    it("ids within identifierBytes, counted in UTF-8 bytes, not characters", () => {
      expect(one<RecordStatement>(`- !variable ${"x".repeat(LIMITS.identifierBytes)}`).id).to.have.length(1024);
      expect(refusal(`- !variable ${"x".repeat(LIMITS.identifierBytes + 1)}`).message).to.match(
        /id is longer than 1024 bytes/,
      );
      // 342 characters, 1,026 bytes.
      expect(refusal(`- !variable ${"€".repeat(342)}`).message).to.match(/id is longer than 1024 bytes/);
      expect(
        refusal(`- !permit { role: !user a, privilege: read, resource: !variable ${"y".repeat(1025)} }`).message,
      ).to.match(/resource is longer than 1024 bytes/);
    });

    it("no NUL bytes in anything stored", () => {
      expect(refusal('- !variable "a\\0b"').message).to.match(/id may not contain NUL bytes/);
      expect(refusal('- !variable { id: a, annotations: { note: "x\\0" } }').message).to.match(
        /annotation value may not contain NUL bytes/,
      );
    });

    it("annotation names, annotation values and privileges within their own bounds", () => {
      expect(refusal(`- !variable { id: a, annotations: { ${"n".repeat(257)}: v } }`).message).to.match(
        /annotation name is longer than 256 bytes/,
      );
      const big = "v".repeat(LIMITS.annotationValueBytes + 1);
      expect(refusal(`- !variable { id: a, annotations: { note: ${big} } }`).message).to.match(
        /annotation value is longer than 65536 bytes/,
      );
      expect(
        one<RecordStatement>(`- !variable { id: a, annotations: { note: ${big.slice(1)} } }`).annotations.note,
      ).to.have.length(LIMITS.annotationValueBytes);
      expect(
        refusal(`- !permit { role: !user a, privilege: ${"p".repeat(65)}, resource: !variable x }`).message,
      ).to.match(/privilege is longer than 64 bytes/);
    });

    it("nesting: a reasonably nested policy parses, one nested past policyDepth is refused", () => {
      const nest = (levels: number): string => {
        let body = ["- !variable leaf"];
        for (let i = levels; i >= 1; i--)
          body = [`- !policy`, `  id: p${i}`, `  body:`, ...body.map((l) => `    ${l}`)];
        return body.join("\n");
      };
      let p = one<RecordStatement>(nest(10));
      for (let i = 2; i <= 10; i++) p = p.body?.[0] as RecordStatement;
      expect(p.body).to.have.nested.property("[0].id", "leaf");
      expect(refusal(nest(40)).message).to.match(/the policy is nested more than 32 levels deep/);
      expect(refusal(`${"[".repeat(40)}!variable x${"]".repeat(40)}`).message).to.match(/nested more than 32 levels/);
    });

    it("an alias that contains itself stops at the nesting bound instead of recursing for ever", () => {
      expect(refusal("- &a [*a]").message).to.match(/nested more than 32 levels deep/);
    });

    it("an alias bomb stops at policyNodes, quickly", () => {
      let bomb = `- &a0 [${Array(10).fill("!variable x").join(", ")}]\n`;
      for (let i = 1; i <= 6; i++)
        bomb += `- &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(", ")}]\n`;
      const started = Date.now();
      expect(refusal(bomb).message).to.match(
        /the policy is too large or its aliases expand too far \(more than 200000 nodes\)/,
      );
      expect(Date.now() - started).to.be.below(3_000);
    });
  });
});
