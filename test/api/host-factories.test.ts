import { expect } from "chai";
import { Client } from "../support/client.js";
import { rawRequest } from "../support/raw-request.js";
import { startTestServer, type TestServer } from "../support/server.js";

const FORM = { "Content-Type": "application/x-www-form-urlencoded" };
/** The Go SDK's expiration: RFC 3339 local time with an offset. */
const inAnHour = (): string => {
  const d = new Date(Date.now() + 3600_000 + 2 * 3600_000);
  return `${d.toISOString().slice(0, 19)}+02:00`;
};

describe("host factories", () => {
  let server: TestServer;
  let admin: Client;
  let operatorKey: string;

  /** What conjur-api-go CreateToken sends. */
  const createTokens = (client: Client, form: string) =>
    client.request("POST", "/host_factory_tokens", { body: form, headers: FORM });
  /** What conjur-api-go CreateHostWithAnnotations (and the Python and Ruby SDKs) send: the raw factory token. */
  const createHost = (token: string, form: string, extra: Record<string, string> = {}) =>
    rawRequest(server.url, "POST", "/host_factories/hosts", {
      body: form,
      headers: { ...FORM, Authorization: `Token token="${token}"`, ...extra },
    });
  const tokenFor = async (
    form = `host_factory=hf:host_factory:apps/web-factory&expiration=${encodeURIComponent(inAnHour())}`,
  ): Promise<string> => {
    const res = await createTokens(admin, form);
    expect(res.status, res.text).to.equal(200);
    return res.json()[0].token;
  };

  before(async () => {
    server = await startTestServer({ account: "hf" });
    admin = await new Client(server.url, "hf").login("admin", server.adminKey);
    const res = await admin.loadPolicy(
      "POST",
      "root",
      `
- !user operator
- !policy
  id: apps
  body:
  - !layer web
  - !variable db-password
  - !permit { role: !layer web, privilege: [read, execute], resource: !variable db-password }
  - !host-factory
    id: web-factory
    annotations: { purpose: ci }
    layers: [ !layer web ]
- !permit { role: !user operator, privilege: read, resource: !host-factory apps/web-factory }
`,
    );
    expect(res.status, res.text).to.equal(201);
    operatorKey = res.json().created_roles["hf:user:operator"].api_key;
    expect((await admin.setSecret("apps/db-password", "s3cret")).status).to.equal(201);
  });
  after(() => server.close());

  it("defines the factory in policy as a role and resource, a member of its layers", async () => {
    const res = await admin.request("GET", "/resources/hf/host_factory/apps%2Fweb-factory");
    expect(res.status).to.equal(200);
    expect(res.json()).to.include({ id: "hf:host_factory:apps/web-factory", owner: "hf:policy:apps" });
    expect(res.json().layers).to.deep.equal(["hf:layer:apps/web"]);
    const layer = await admin.request("GET", "/roles/hf/layer/apps%2Fweb?members");
    expect(layer.json()).to.deep.include({
      admin_option: false,
      ownership: false,
      role: "hf:layer:apps/web",
      member: "hf:host_factory:apps/web-factory",
      policy: "hf:policy:apps",
    });
  });

  it("refuses a factory without layers", async () => {
    const res = await admin.loadPolicy("POST", "root", "- !host-factory { id: empty }\n");
    expect(res.status).to.equal(422);
    expect(res.json().error.message).to.contain("Host factory 'empty' does not include any layers");
  });

  it("creates tokens: 200 with an array of count objects, UTC expiration, normalised CIDRs", async () => {
    const res = await createTokens(
      admin,
      `host_factory=hf%3Ahost_factory%3Aapps%2Fweb-factory&expiration=2050-12-31T01%3A00%3A00%2B01%3A00&count=2&cidr%5B%5D=123.234.0.0%2F16&cidr%5B%5D=222.222.222.0%2F24&cidr%5B%5D=10.1.2.3`,
    );
    expect(res.status, res.text).to.equal(200);
    const tokens = res.json();
    expect(tokens).to.have.length(2);
    expect(Object.keys(tokens[0])).to.deep.equal(["expiration", "cidr", "token"]);
    expect(tokens[0]).to.deep.include({
      expiration: "2050-12-31T00:00:00Z",
      cidr: ["123.234.0.0/16", "222.222.222.0/24", "10.1.2.3/32"],
    });
    expect(tokens[0].token).to.match(/^[0-9a-hjkmnp-tv-z]{40,56}$/);
    expect(tokens[0].token).not.to.equal(tokens[1].token);
    const shown = (await admin.request("GET", "/resources/hf/host_factory/apps%2Fweb-factory")).json();
    expect(shown.tokens).to.deep.include({
      expiration: "2050-12-31T00:00:00Z",
      cidr: ["123.234.0.0/16", "222.222.222.0/24", "10.1.2.3/32"],
    });
  });

  it("accepts the parameters as JSON and in the query string too (Python's shape: cidr[] then expiration)", async () => {
    const json = await admin.request("POST", "/host_factory_tokens", {
      body: JSON.stringify({
        host_factory: "hf:host_factory:apps/web-factory",
        expiration: "2050-01-01T00:00:00Z",
        cidr: ["10.0.0.0/8"],
      }),
      headers: { "Content-Type": "application/json" },
    });
    expect(json.status, json.text).to.equal(200);
    expect(json.json()[0].cidr).to.deep.equal(["10.0.0.0/8"]);
    const query = await admin.request(
      "POST",
      `/host_factory_tokens?host_factory=hf:host_factory:apps/web-factory&cidr%5B%5D=10.0.0.1&expiration=2050-01-01`,
    );
    expect(query.status, query.text).to.equal(200);
  });

  it("checks token parameters in Conjur's order with Conjur's answers", async () => {
    const hf = "host_factory=hf:host_factory:apps/web-factory";
    const expectError = async (form: string, status: number, message?: string, client = admin) => {
      const res = await createTokens(client, form);
      expect(res.status, `${form}: ${res.text}`).to.equal(status);
      if (message) expect(res.json().error.message).to.equal(message);
      else expect(res.text).to.equal("");
    };
    await expectError("expiration=2050-01-01", 422, "host_factory");
    await expectError(
      "host_factory=hf:host_factory:nope&expiration=2050-01-01",
      404,
      "Host_factory 'nope' not found in account 'hf'",
    );
    await expectError("host_factory=hf:layer:apps/web&expiration=2050-01-01", 422, "Invalid resource kind: layer");
    await expectError(hf, 422, "expiration");
    await expectError(`${hf}&expiration=tomorrow`, 422, "Input is invalid ISO8601 datetime string: tomorrow");
    await expectError(
      `${hf}&expiration=2001-01-01T00:00:00Z`,
      422,
      "Value for parameter expiration must be in the future: 2001-01-01T00:00:00Z",
    );
    await expectError(`${hf}&expiration=2050-01-01&count=0`, 422, "Invalid value for parameter 'count': 0");
    await expectError(
      `${hf}&expiration=2050-01-01&count=999999999999`,
      422,
      "Invalid value for parameter 'count': 999999999999",
    );
    await expectError(
      `${hf}&expiration=2050-01-01&cidr[]=1.895.abc.0/32`,
      422,
      "Invalid IP address or CIDR range '1.895.abc.0/32'",
    );
    const operator = await new Client(server.url, "hf").login("operator", operatorKey);
    await expectError(`${hf}&expiration=2050-01-01`, 403, undefined, operator);
  });

  it("enrolls a host with the raw factory token and no admin key: 201, owner the factory, in its layers", async () => {
    const token = await tokenFor();
    const res = await createHost(token, "id=build-01&annotations%5Bpurpose%5D=ci&annotations%5Bteam%5D=platform");
    expect(res.status, res.body.toString()).to.equal(201);
    const host = JSON.parse(res.body.toString());
    expect(host).to.include({ id: "hf:host:build-01", owner: "hf:host_factory:apps/web-factory" });
    expect(host.annotations).to.deep.equal([
      { name: "purpose", value: "ci" },
      { name: "team", value: "platform" },
    ]);
    expect(host.restricted_to).to.deep.equal([]);
    expect(host.permissions).to.deep.equal([]);
    // The host can log in and, through the layer, read the layer's secret.
    const client = await new Client(server.url, "hf").login("host/build-01", host.api_key);
    expect((await client.getSecret("apps/db-password")).text).to.equal("s3cret");
    // The same token enrolls more hosts until it expires.
    expect((await createHost(token, "id=build-02")).status).to.equal(201);
  });

  it("rotates the key of a host the factory owns, and refuses a host it does not own", async () => {
    const token = await tokenFor();
    const first = JSON.parse((await createHost(token, "id=rotating")).body.toString()).api_key;
    const again = await createHost(token, "id=rotating");
    expect(again.status).to.equal(201);
    const second = JSON.parse(again.body.toString()).api_key;
    expect(second).not.to.equal(first);
    expect(
      (await admin.request("POST", "/authn/hf/host%2Frotating/authenticate", { body: first, auth: false })).status,
    ).to.equal(401);
    expect((await admin.loadPolicy("POST", "root", "- !host someone-elses\n")).status).to.equal(201);
    const refused = await createHost(token, "id=someone-elses");
    expect(refused.status).to.equal(403);
    expect(refused.body.toString()).to.equal("");
  });

  it("answers 401 with an empty body for a missing, unknown, expired or out-of-range token", async () => {
    const none = await rawRequest(server.url, "POST", "/host_factories/hosts", { body: "id=x", headers: FORM });
    expect(none.status).to.equal(401);
    expect(none.body.toString()).to.equal("");
    expect((await createHost("not-a-token", "id=x")).status).to.equal(401);
    // An access token is not a factory token.
    expect((await createHost(admin.token!, "id=x")).status).to.equal(401);
    const soon = new Date(Date.now() + 1500).toISOString();
    const shortLived = await tokenFor(
      `host_factory=hf:host_factory:apps/web-factory&expiration=${encodeURIComponent(soon)}`,
    );
    await new Promise((r) => setTimeout(r, 2000));
    expect((await createHost(shortLived, "id=late")).status).to.equal(401);
    const ranged = await tokenFor(
      `host_factory=hf:host_factory:apps/web-factory&expiration=2050-01-01&cidr[]=10.0.0.0/24`,
    );
    expect((await createHost(ranged, "id=ranged", { "X-Forwarded-For": "10.0.1.1" })).status).to.equal(401);
    expect((await createHost(ranged, "id=ranged", { "X-Forwarded-For": "10.0.0.1" })).status).to.equal(201);
  });

  it("validates the host id: missing, conjur/ prefix", async () => {
    const token = await tokenFor();
    const missing = await createHost(token, "annotations%5Ba%5D=b");
    expect(missing.status).to.equal(422);
    expect(JSON.parse(missing.body.toString())).to.deep.equal({
      error: { code: "parameter_missing", message: "param is missing or the value is empty: id" },
    });
    const reserved = await createHost(token, "id=conjur%2Fevil");
    expect(reserved.status).to.equal(422);
    expect(JSON.parse(reserved.body.toString()).error).to.deep.equal({
      code: "argument_error",
      message: "Invalid id: conjur/evil",
    });
  });

  it("deletes a token: 204, then it no longer enrolls hosts, and deleting twice is 404", async () => {
    const token = await tokenFor();
    const operator = await new Client(server.url, "hf").login("operator", operatorKey);
    expect((await operator.request("DELETE", `/host_factory_tokens/${token}`)).status).to.equal(403);
    expect((await admin.request("DELETE", `/host_factory_tokens/${token}`)).status).to.equal(204);
    expect((await createHost(token, "id=after-delete")).status).to.equal(401);
    const twice = await admin.request("DELETE", `/host_factory_tokens/${token}`);
    expect(twice.status).to.equal(404);
    expect(twice.json().error).to.deep.include({
      code: "not_found",
      message: `Host_factory_token '${token}' not found in account '*'`,
      target: "host_factory_token",
    });
  });
});
