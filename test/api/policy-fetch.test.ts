import { expect } from "chai";
import { parse } from "yaml";
import { Client } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe("GET /policies/{account}/policy/{id} (effective policy)", () => {
  let server: TestServer;
  let admin: Client;
  let readerKey: string;
  /** What conjur-api-go FetchPolicy sends: the request Content-Type chooses the format. */
  const fetchPolicy = (id: string, query = "", contentType = "application/x-yaml", client: Client = admin) =>
    client.request("GET", `/policies/pf/policy/${encodeURIComponent(id)}${query}`, {
      headers: { "Content-Type": contentType },
    });

  before(async () => {
    server = await startTestServer({ account: "pf" });
    admin = await new Client(server.url, "pf").login("admin", server.adminKey);
    const res = await admin.loadPolicy(
      "POST",
      "root",
      `
- !user reader
- !group ops
- !policy
  id: outer
  body:
  - !variable { id: v, kind: description, mime_type: text/plain, annotations: { rotation: weekly } }
  - !host { id: h, restricted_to: 10.0.0.0/24 }
  - !layer lyr
  - !host-factory { id: hf, layers: [ !layer lyr ] }
  - !group g
  - !user ali
  - !grant { role: !group g, members: [ !user ali, !group /ops ] }
  - !permit { role: !group g, privileges: [read, execute], resource: !variable v }
  - !policy { id: adm, body: [ !variable deep ] }
- !permit { role: !user reader, privilege: read, resource: !policy outer }
`,
    );
    expect(res.status, res.text).to.equal(201);
    readerKey = res.json().created_roles["pf:user:reader"].api_key;
  });
  after(() => server.close());

  it("answers the policy rebuilt from the database as YAML, wrapped in its !policy", async () => {
    const res = await fetchPolicy("outer");
    expect(res.status, res.text).to.equal(200);
    expect(res.headers.get("content-type")).to.match(/^application\/x-yaml/);
    expect(res.text).to.match(/^---\n- !policy\n {2}id: outer\n {2}body:\n/);
    expect(res.text).to.contain("!variable");
    expect(res.text).to.contain("role: !group g");
    expect(res.text).to.contain("- !group /ops");
    expect(res.text).to.contain("!host-factory");
  });

  it("can be loaded back: the YAML is a valid policy that changes nothing", async () => {
    const yaml = (await fetchPolicy("outer")).text;
    const inner = yaml
      .replace(/^---\n- !policy\n {2}id: outer\n {2}body:\n/, "")
      .replace(/^ {2}/gm, ""); /* body items sit at 2 spaces (Psych layout) */
    const dry = await admin.request("POST", "/policies/pf/policy/outer?dryRun=true", { body: inner });
    expect(dry.status, `${dry.text}\n${inner}`).to.equal(200);
    expect(dry.json().created.items).to.deep.equal([]);
    expect(dry.json().updated.after.items).to.deep.equal([]);
  });

  it("answers JSON when the request Content-Type is application/json", async () => {
    const res = await fetchPolicy("outer", "", "application/json");
    expect(res.status).to.equal(200);
    const [policy] = res.json();
    expect(policy.policy.id).to.equal("outer");
    const body = policy.policy.body;
    expect(body).to.deep.include({
      variable: { id: "v", kind: "description", mime_type: "text/plain", annotations: { rotation: "weekly" } },
    });
    expect(body).to.deep.include({ host: { id: "h", restricted_to: ["10.0.0.0/24"] } });
    expect(body).to.deep.include({ "host-factory": { id: "hf", layers: [{ layer: "lyr" }] } });
    expect(body).to.deep.include({ grant: { role: { group: "g" }, members: [{ group: "/ops" }, { user: "ali" }] } });
    expect(body).to.deep.include({
      permit: { role: { group: "g" }, privileges: ["execute", "read"], resource: { variable: "v" } },
    });
    expect(body).to.deep.include({ policy: { id: "adm", body: [{ variable: { id: "deep" } }] } });
  });

  it("honours depth and limit, and refuses bad values with an empty 400", async () => {
    const shallow = (await fetchPolicy("outer", "?depth=0", "application/json")).json();
    expect(shallow).to.deep.equal([{ policy: { id: "outer", body: [] } }]);
    const one = (await fetchPolicy("outer", "?depth=1", "application/json")).json()[0].policy.body;
    expect(one).to.deep.include({ policy: { id: "adm", body: [] } });
    const tooBig = await fetchPolicy("outer", "?limit=3");
    expect(tooBig.status).to.equal(422);
    expect(tooBig.json().error).to.deep.equal({ code: "unprocessable_entity", message: tooBig.json().error.message });
    expect(tooBig.json().error.message).to.match(
      /^CONJ00164E Policy max allowed 'limit' = 3 exceeded\. Value for policy is: \d+$/,
    );
    for (const q of ["?depth=x", "?depth=65", "?limit=-1", "?limit=100001"]) {
      const bad = await fetchPolicy("outer", q);
      expect(bad.status, q).to.equal(400);
      expect(bad.text).to.equal("");
    }
  });

  it("answers the root policy as its list of statements", async () => {
    const res = await fetchPolicy("root", "", "application/json");
    expect(res.status).to.equal(200);
    expect(res.json()).to.deep.include({ user: { id: "reader" } });
    expect(res.json().some((s: any) => s.policy?.id === "outer")).to.equal(true);
    expect(parse(res.text)).to.be.an("array");
  });

  it("is for the policy's owner only: 403 when visible but not owned, 404 when invisible", async () => {
    const reader = await new Client(server.url, "pf").login("reader", readerKey);
    const forbidden = await fetchPolicy("outer", "", "application/x-yaml", reader);
    expect(forbidden.status).to.equal(403);
    expect(forbidden.text).to.equal("");
    expect((await fetchPolicy("outer/adm", "", "application/x-yaml", reader)).status).to.equal(404);
    expect((await fetchPolicy("nope")).status).to.equal(404);
  });
});
