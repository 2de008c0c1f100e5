/**
 * The exact request shapes Conjur's official clients send (conjur-api-ruby 6.x builds URLs
 * with a trailing slash and decodes token parts with strict_decode64; `filter[]` is Ruby's
 * to_query; `exists?` is a HEAD), answered as Conjur answers them.
 */
import { expect } from "chai";
import { Client } from "../support/client.js";
import { rawRequest } from "../support/raw-request.js";
import { startTestServer, type TestServer } from "../support/server.js";

/** Ruby's Base64.strict_decode64 after tr('-_', '+/'): no missing padding, nothing outside the alphabet. */
function strictDecode64Url(s: string): Buffer {
  const standard = s.replace(/-/g, "+").replace(/_/g, "/");
  if (standard.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(standard))
    throw new Error(`ArgumentError: invalid base64: ${s}`);
  return Buffer.from(standard, "base64");
}

describe("Conjur's official clients, request for request", () => {
  let server: TestServer;
  let admin: Client;
  const account = "myorg";

  before(async () => {
    server = await startTestServer({ account });
    admin = await new Client(server.url, account).login("admin", server.adminKey);
    const res = await admin.loadPolicy(
      "POST",
      "root",
      `
- !user { id: alice, uidnumber: 1001 }
- !user { id: carol, uidnumber: 7, annotations: { conjur/uidnumber: "42" } }
- !user bob
- !group { id: developers, gidnumber: 2001 }
- !group ops
- !grant { role: !group developers, members: [!user alice, !user bob] }
- !grant { role: !group ops, member: !group developers }
- !host doomed
- !variable prod/db/password
- !permit { role: !host doomed, privileges: [read, execute], resource: !variable prod/db/password }
`,
    );
    expect(res.status, res.text).to.equal(201);
    await admin.setSecret("prod/db/password", "v1");
    await admin.setSecret("prod/db/password", "v2");
  });
  after(() => server.close());

  describe("trailing slashes and doubled slashes, as the Ruby SDK builds URLs", () => {
    it("reads a secret at …/variable/prod%2Fdb%2Fpassword/ and …/?version=1", async () => {
      expect((await admin.request("GET", `/secrets/${account}/variable/prod%2Fdb%2Fpassword/`)).text).to.equal("v2");
      expect(
        (await admin.request("GET", `/secrets/${account}/variable/prod%2Fdb%2Fpassword/?version=1`)).text,
      ).to.equal("v1");
    });

    it("writes a secret at …/variable/x/", async () => {
      expect(
        (await admin.request("POST", `/secrets/${account}/variable/prod%2Fdb%2Fpassword/`, { body: "v3" })).status,
      ).to.equal(201);
      expect((await admin.getSecret("prod/db/password")).text).to.equal("v3");
    });

    it("checks a privilege at /resources/…/x/?check=true&privilege=execute", async () => {
      const res = await admin.request(
        "GET",
        `/resources/${account}/variable/prod%2Fdb%2Fpassword/?check=true&privilege=execute&role=${account}:host:doomed`,
      );
      expect(res.status).to.equal(204);
    });

    it("lists members at /roles/…/developers/?members=true, and squeezes //", async () => {
      const res = await admin.request("GET", `/roles/${account}/group/developers/?members=true`);
      expect(res.status).to.equal(200);
      expect(res.json().map((m: { member: string }) => m.member)).to.include.members([
        `${account}:user:alice`,
        `${account}:user:bob`,
      ]);
      const squeezed = await rawRequest(server.url, "GET", `//resources//${account}//variable/prod%2Fdb%2Fpassword/`, {
        headers: { Authorization: `Token token="${admin.token}"` },
      });
      expect(squeezed.status).to.equal(200);
      expect((await admin.request("GET", "/whoami/")).status).to.equal(200);
    });

    it("keeps a trailing %2F as part of the id (only a literal / is normalised)", async () => {
      expect((await admin.request("GET", `/secrets/${account}/variable/prod%2Fdb%2Fpassword%2F`)).status).to.equal(404);
    });

    it("answers HEAD like GET without a body (the Ruby SDK's exists?)", async () => {
      const present = await rawRequest(server.url, "HEAD", `/resources/${account}/variable/prod%2Fdb%2Fpassword/`, {
        headers: { Authorization: `Token token="${admin.token}"` },
      });
      expect(present.status).to.equal(200);
      expect(present.body.length).to.equal(0);
      const absent = await rawRequest(server.url, "HEAD", `/roles/${account}/group/nobody/`, {
        headers: { Authorization: `Token token="${admin.token}"` },
      });
      expect(absent.status).to.equal(404);
    });
  });

  it("issues tokens whose parts Ruby's strict_decode64 accepts", async () => {
    const res = await admin.request("POST", `/authn/${account}/admin/authenticate`, {
      body: server.adminKey,
      auth: false,
    });
    const token = res.json();
    const payload = JSON.parse(strictDecode64Url(token.payload).toString());
    expect(payload.sub).to.equal("admin");
    expect(JSON.parse(strictDecode64Url(token.protected).toString())).to.have.property("alg");
    expect(strictDecode64Url(token.signature).length).to.equal(32);
  });

  it("stores uidnumber and gidnumber as conjur/ annotations; an explicit annotation wins", async () => {
    const annotations = async (kind: string, id: string): Promise<Record<string, string>> =>
      Object.fromEntries(
        (await admin.request("GET", `/resources/${account}/${kind}/${id}`))
          .json()
          .annotations.map((a: { name: string; value: string }) => [a.name, a.value]),
      );
    expect(await annotations("user", "alice")).to.include({ "conjur/uidnumber": "1001" });
    expect(await annotations("user", "carol")).to.include({ "conjur/uidnumber": "42" });
    expect(await annotations("group", "developers")).to.include({ "conjur/gidnumber": "2001" });
    const bad = await admin.loadPolicy("POST", "root", "- !user { id: dave, uidnumber: abc }\n");
    expect(bad.status).to.equal(422);
    expect(bad.json().error.message).to.match(/uidnumber must be an integer/);
  });

  it("filters ?all memberships by filter[] (Ruby to_query) and by filter=, adding the account to kind:id", async () => {
    const all = (query: string) => admin.request("GET", `/roles/${account}/user/alice?all&${query}`);
    const arr = await all(`filter[]=${account}:group:ops&filter[]=group:developers&filter[]=group:nothing`);
    expect(arr.status).to.equal(200);
    expect(arr.json().sort()).to.deep.equal([`${account}:group:developers`, `${account}:group:ops`]);
    expect((await all(`filter=group:ops`)).json()).to.deep.equal([`${account}:group:ops`]);
    expect((await all(`filter[]=group:ops&count=true`)).json()).to.deep.equal({ count: 1 });
    const bad = await all("filter[]=ops");
    expect(bad.status).to.equal(422);
    expect(bad.json().error.message).to.equal("Expected at least 2 tokens in ops");
  });

  it("lists resources with kind as a query parameter (Go SDK), across accounts, and acting_as a role the caller has", async () => {
    const byQuery = await admin.request("GET", `/resources/${account}?kind=group`);
    expect(
      byQuery
        .json()
        .map((r: { id: string }) => r.id)
        .sort(),
    ).to.deep.equal([`${account}:group:developers`, `${account}:group:ops`]);
    expect((await admin.request("GET", `/resources/${account}?kind=bogus`)).status).to.equal(422);
    const everywhere = await admin.request("GET", "/resources?limit=1000");
    expect(everywhere.status).to.equal(200);
    expect(everywhere.json().length).to.be.above(5);
    const asAlice = await admin.request("GET", `/resources/${account}?acting_as=${account}:user:alice`);
    expect(asAlice.status, "admin owns alice, so has her role").to.equal(200);
    const alice = await new Client(server.url, account).login(
      "alice",
      (await admin.request("PUT", `/authn/${account}/api_key?role=user:alice`)).text,
    );
    expect((await alice.request("GET", `/resources/${account}?acting_as=${account}:user:admin`)).status).to.equal(403);
  });

  it("checks batch permissions before missing ids, as Conjur's SecretsController#batch does", async () => {
    const alice = await new Client(server.url, account).login(
      "alice",
      (await admin.request("PUT", `/authn/${account}/api_key?role=user:alice`)).text,
    );
    await admin.loadPolicy(
      "POST",
      "root",
      "- !variable seen\n- !permit { role: !user alice, privilege: read, resource: !variable seen }\n",
    );
    const res = await alice.batch([`${account}:variable:nothing`, `${account}:variable:seen`]);
    expect(res.status).to.equal(403);
  });

  describe("a token whose role was deleted", () => {
    let doomed: Client;
    before(async () => {
      const key = (await admin.request("PUT", `/authn/${account}/api_key?role=host:doomed`)).text;
      doomed = await new Client(server.url, account).login("host/doomed", key);
      expect((await doomed.getSecret("prod/db/password")).status).to.equal(200);
      const res = await admin.loadPolicy("PATCH", "root", "- !delete { record: !host doomed }\n");
      expect(res.status, res.text).to.equal(201);
    });

    it("answers 403 on secrets, batches, policies, roles and resource lists; /whoami stays 200", async () => {
      expect((await doomed.getSecret("prod/db/password")).status).to.equal(403);
      expect((await doomed.setSecret("prod/db/password", "x")).status).to.equal(403);
      expect((await doomed.batch([`${account}:variable:prod/db/password`])).status).to.equal(403);
      expect((await doomed.loadPolicy("POST", "root", "- !variable x\n")).status).to.equal(403);
      expect((await doomed.request("GET", `/roles/${account}/group/ops`)).status).to.equal(403);
      expect((await doomed.request("GET", `/resources/${account}`)).status).to.equal(403);
      expect((await doomed.request("GET", `/resources/${account}/variable?count=true`)).status).to.equal(403);
      expect((await doomed.request("GET", "/whoami")).status).to.equal(200);
    });

    it("answers 404 for a single resource that does not exist, 403 for one that does", async () => {
      expect((await doomed.request("GET", `/resources/${account}/variable/nothing-here`)).status).to.equal(404);
      expect((await doomed.request("GET", `/resources/${account}/variable/prod%2Fdb%2Fpassword`)).status).to.equal(403);
      expect(
        (await doomed.request("GET", `/resources/${account}/variable/prod%2Fdb%2Fpassword?check=true&privilege=read`))
          .status,
      ).to.equal(403);
    });
  });
});
