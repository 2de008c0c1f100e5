/**
 * CyberArk's Go-based Conjur clients, request for request: the Go SDK and the CLI built on it,
 * summon-conjur, and the Secrets Provider for Kubernetes with its authn-jwt client. Each test
 * replays the exact requests one client function sends (method, path and its escaping, query,
 * headers, body encoding — read from the client's source, named in the test title) and reads
 * the answer as that client does (test/support/conjur-client-wire.ts). Sources read:
 * conjur-api-go f331c500, conjur-cli-go e5a2d212, summon-conjur a8e0b382,
 * secrets-provider-for-k8s bea28da0, conjur-authn-k8s-client 607e215a. The Python and Ruby
 * SDKs: official-clients-python-ruby.test.ts.
 */
import { expect } from "chai";
import {
  basicAuth,
  encodeSorted,
  goNewToken,
  goPathEscape,
  goQueryEscape,
  STACK_HEADERS,
  strictBase64,
  tokenHeader,
  versionAtLeast,
  wire,
  type WireResponse,
} from "../support/conjur-client-wire.js";
import {
  A,
  BINARY,
  FORMISH,
  startClientsFixture,
  VALUES,
  type ClientsFixture,
} from "../support/official-clients-fixture.js";

describe("official Conjur clients (Go family), request for request", () => {
  let fixture: ClientsFixture;
  let server: ClientsFixture["server"];
  let admin: ClientsFixture["admin"];
  const apiKeyOf = (role: string) => fixture.apiKeyOf(role);
  const serviceAccountToken = () => fixture.serviceAccountToken();

  before(async () => {
    fixture = await startClientsFixture();
    ({ server, admin } = fixture);
  });
  after(() => server.close());

  let token: Buffer;
  /** conjur-api-go requests.go:SubmitRequest: the SDK's headers and `Authorization` from the token it holds (as: null — none). */
  const go = (
    method: string,
    path: string,
    opts: { headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean; as?: Buffer | null } = {},
  ) =>
    wire(server.url, method, path, {
      ...opts,
      headers: {
        ...STACK_HEADERS.go,
        ...(opts.as === null ? {} : { Authorization: tokenHeader(opts.as ?? token) }),
        ...opts.headers,
      },
    });
  /** requests.go:AuthenticateRequest → authn.go:refreshToken (authn.NewToken must accept it). */
  const authenticate = async (login: string, apiKey: string): Promise<Buffer> => {
    const res = await go("POST", `/authn/${A}/${goQueryEscape(login)}/authenticate`, {
      body: apiKey,
      headers: { "Content-Type": "text/plain" },
      as: null,
    });
    expect(res.status, res.text).to.equal(200);
    expect(goNewToken(res.body).sub).to.equal(login);
    return res.body;
  };

  describe("Go SDK and CLI (conjur-api-go conjurapi/, conjur-cli-go pkg/cmd/)", () => {
    before(async () => {
      token = await authenticate("admin", server.adminKey);
    });

    it("info.go:ServerVersion: GET /info is 401/404 (OSS), so RootRequest's version (≥ 1.21.1) unlocks DryRunPolicy and FetchPolicy", async () => {
      expect([401, 404]).to.include((await go("GET", "/info", { as: null })).status);
      const root = await go("GET", "/", { headers: { Accept: "application/json, text/html" }, as: null });
      expect(root.status).to.equal(200);
      expect(root.headers["content-type"]).to.include("application/json");
      expect(versionAtLeast(root.json().version, "1.21.1")).to.equal(true);
    });

    it("requests.go:LoginRequest (GET …/login, Basic, Content-Type text/plain) and AuthenticateRequest (login QueryEscaped); authn.go:WhoAmI", async () => {
      const login = await go("GET", `/authn/${A}/login`, {
        headers: { Authorization: basicAuth("admin", server.adminKey), "Content-Type": "text/plain" },
      });
      expect(login.status).to.equal(200);
      expect(login.text).to.equal(server.adminKey);
      const host = await authenticate("host/ci/runner", await apiKeyOf("host:ci/runner"));
      expect((await go("GET", "/whoami", { as: host })).json()).to.include({ account: A, username: "host/ci/runner" });
    });

    it("authn/auth_token.go:NewToken decodes the payload with StdEncoding: a login whose claims would base64url to '-' or '_' still works", async () => {
      const tilde = await authenticate("host/ap~1", await apiKeyOf("host:ap~1"));
      expect(
        (await go("GET", `/secrets/${A}/variable/${goPathEscape("apps/db/password")}`, { as: tilde })).text,
      ).to.equal("s3cret");
    });

    it("requests.go:RotateAPIKeyRequest (?role=account:kind:id, unescaped) and RotateCurrentRoleAPIKeyRequest (Basic, no body)", async () => {
      const oldKey = await apiKeyOf("host:ci/runner");
      const rotated = await go("PUT", `/authn/${A}/api_key?role=${A}:host:ci/runner`);
      expect(rotated.status).to.equal(200);
      expect(rotated.text)
        .to.match(/^[a-z0-9]{40,}$/)
        .and.not.equal(oldKey);
      const own = await go("PUT", `/authn/${A}/api_key`, {
        headers: { Authorization: basicAuth("host/ci/runner", rotated.text) },
      });
      expect(own.status).to.equal(200);
      await authenticate("host/ci/runner", own.text);
    });

    it("requests.go:LoadPolicyRequest: chunked body, no Content-Type, id QueryEscaped; policy.go:LoadPolicy and DryRunPolicy decode the answers", async () => {
      const loaded = await go("POST", `/policies/${A}/policy/${goQueryEscape("apps")}`, {
        body: "- !host from-go\n- !variable go/a var\n",
        chunked: true,
      });
      expect(loaded.status, loaded.text).to.equal(201);
      const result = loaded.json() as {
        created_roles: Record<string, { id: string; api_key: string }>;
        version: number;
      };
      expect(result.created_roles[`${A}:host:apps/from-go`]!.api_key).to.be.a("string");
      expect(result.version).to.be.a("number");
      const dry = await go("PATCH", `/policies/${A}/policy/apps?dryRun=true`, {
        body: "- !variable { id: go/dry, annotations: { team: blue } }\n",
        chunked: true,
      });
      expect(dry.status, dry.text).to.equal(200);
      const report = dry.json();
      expect(report.status).to.equal("Valid YAML");
      const item = report.created.items.find((i: { id: string }) => i.id === "apps/go/dry");
      expect(item.annotations, "DryRunPolicyResponseItems: Annotations map[string]string").to.deep.equal({
        team: "blue",
      });
      const invalid = await go("POST", `/policies/${A}/policy/apps?dryRun=true`, {
        body: "- !variable [\n",
        chunked: true,
      });
      expect(invalid.status).to.equal(422);
      expect(invalid.json().errors[0].message).to.be.a("string");
    });

    it("policy.go:FetchPolicy (the CLI's `policy fetch`: depth=64&limit=100000, request Content-Type picks YAML or JSON)", async () => {
      const yaml = await go("GET", `/policies/${A}/policy/apps?depth=64&limit=100000`, {
        headers: { "Content-Type": "application/x-yaml" },
      });
      expect(yaml.status, yaml.text).to.equal(200);
      expect(yaml.text)
        .to.match(/!variable/)
        .and.include("db/password");
      const json = await go("GET", `/policies/${A}/policy/apps?depth=64&limit=100000`, {
        headers: { "Content-Type": "application/json" },
      });
      expect(json.headers["content-type"]).to.include("application/json");
      expect(JSON.stringify(json.json())).to.include("db/password");
    });

    it("requests.go:AddSecretRequest (PathEscape, form Content-Type, raw value), RetrieveSecretRequest and RetrieveSecretWithVersionRequest", async () => {
      const path = `/secrets/${A}/variable/${goPathEscape("apps/go/a var")}`;
      expect(path).to.equal(`/secrets/${A}/variable/apps%2Fgo%2Fa%20var`);
      for (const value of ["first", FORMISH])
        expect(
          (await go("POST", path, { body: value, headers: { "Content-Type": "application/x-www-form-urlencoded" } }))
            .status,
        ).to.equal(201);
      expect((await go("GET", path)).text, "the form-looking body is the value, not a form").to.equal(FORMISH);
      expect((await go("GET", `${path}?version=1`)).text).to.equal("first");
      expect(
        (await go("GET", `/secrets/${A}/variable/${goPathEscape("apps/a+b")}`)).text,
        "PathEscape keeps '+', which is a plain '+' in a path",
      ).to.equal("plus");
    });

    it("variable.go:RetrieveBatchSecretsSafe (also the CLI's `variable get`): Content-Encoding base64 and StdEncoding values; RetrieveBatchSecrets plain", async () => {
      const ids = ["apps/blob", "apps/a+b", "apps/db/password"].map((id) => `${A}:variable:${id}`);
      const path = `/secrets?variable_ids=${goQueryEscape(ids.join(","))}`;
      const safe = await go("GET", path, { headers: { "Accept-Encoding": "base64" } });
      expect(safe.status, safe.text).to.equal(200);
      expect(safe.headers["content-encoding"]).to.equal("base64");
      const decoded = Object.fromEntries(
        Object.entries(safe.json() as Record<string, string>).map(([id, v]) => [id, strictBase64(v)]),
      );
      expect(decoded[ids[0]!]).to.deep.equal(BINARY);
      expect(decoded[ids[1]!]!.toString()).to.equal("plus");
      const plain = await go("GET", `/secrets?variable_ids=${goQueryEscape(ids.slice(1).join(","))}`);
      expect(plain.json()).to.deep.equal({ [ids[1]!]: "plus", [ids[2]!]: "s3cret" });
    });

    it("resource.go: Resources (url.Values: sorted, kind in the query), ResourcesCount, Resource, CheckPermission[ForRole], PermittedRoles, ResourceExists", async () => {
      const list = await go(
        "GET",
        `/resources/${A}?${encodeSorted(
          [
            ["kind", "variable"],
            ["search", "apps"],
            ["limit", "2"],
            ["offset", "1"],
          ],
          goQueryEscape,
        )}`,
      );
      expect(list.json().map((r: { id: string }) => r.id)).to.have.length(2);
      expect((await go("GET", `/resources/${A}?count=true&kind=host_factory`)).json()).to.deep.equal({ count: 1 });
      const one = await go("GET", `/resources/${A}/variable/${goQueryEscape("apps/db/password")}`);
      expect(one.json().id).to.equal(`${A}:variable:apps/db/password`);
      const check = (query: string) =>
        go("GET", `/resources/${A}/variable/${goQueryEscape("apps/db/password")}?${query}`);
      expect((await check("check=true&privilege=execute")).status).to.equal(204);
      expect((await check(`check=true&privilege=execute&role=${goQueryEscape(`${A}:user:alice`)}`)).status).to.equal(
        204,
      );
      expect(
        (await check(`check=true&privilege=update&role=${goQueryEscape(`${A}:user:alice`)}`)).status,
        "CheckPermission reads 404 as false",
      ).to.equal(404);
      expect((await check("permitted_roles=true&privilege=execute")).json()).to.include.members([
        `${A}:user:alice`,
        `${A}:host:ci/runner`,
      ]);
      expect(
        (await go("GET", `/resources/${A}/variable/${goQueryEscape("nope")}`)).status,
        "ResourceExists: 404 → false",
      ).to.equal(404);
    });

    it("role.go: Role, RoleMembers (?members), RoleMemberships (?memberships), RoleMembershipsAll (?all), RoleExists", async () => {
      const role = (query = "") => go("GET", `/roles/${A}/group/${goQueryEscape("apps/readers")}${query}`);
      expect((await role()).json().id).to.equal(`${A}:group:apps/readers`);
      expect((await role("?members")).json().map((m: { member: string }) => m.member)).to.include(
        `${A}:group:developers`,
      );
      expect(
        (await go("GET", `/roles/${A}/user/alice?memberships`)).json().map((m: { role: string }) => m.role),
      ).to.deep.equal([`${A}:group:developers`]);
      expect((await go("GET", `/roles/${A}/user/alice?all`)).json()).to.include.members([
        `${A}:user:alice`,
        `${A}:group:developers`,
        `${A}:group:apps/readers`,
      ]);
      expect((await go("GET", `/roles/${A}/user/nobody`)).status).to.equal(404);
    });

    it("host_factory.go: CreateToken (form: cidr%5B%5D, count, RFC 3339 expiration, host_factory), CreateHost with the raw token, DeleteToken", async () => {
      const expiration = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
      const form = encodeSorted(
        [
          ["host_factory", `${A}:host_factory:apps/enroll`],
          ["expiration", expiration],
          ["count", "2"],
          ["cidr[]", "127.0.0.1/32"],
        ],
        goQueryEscape,
      );
      const created = await go("POST", "/host_factory_tokens", {
        body: form,
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      });
      expect(created.status, created.text).to.equal(200);
      const tokens = created.json() as { expiration: string; cidr: string[]; token: string }[];
      expect(tokens).to.have.length(2);
      expect(tokens[0]!.cidr).to.deep.equal(["127.0.0.1/32"]);
      const body = encodeSorted(
        [
          ["id", "go-enrolled"],
          ["annotations[team]", "blue"],
        ],
        goQueryEscape,
      );
      const host = await go("POST", "/host_factories/hosts", {
        body,
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Authorization: `Token token="${tokens[0]!.token}"`,
        },
      });
      expect(host.status, host.text).to.equal(201);
      expect(host.json()).to.include({ id: `${A}:host:go-enrolled` });
      expect(host.json().api_key).to.be.a("string");
      expect(
        (
          await go("DELETE", `/host_factory_tokens/${tokens[1]!.token}`, {
            headers: { "Content-Type": "application/x-www-form-urlencoded" },
          })
        ).status,
      ).to.equal(204);
    });

    it("authn.go:PublicKeys (GET /public_keys/{account}/user/{login}, token sent, not needed)", async () => {
      const res = await go("GET", `/public_keys/${A}/user/alice`);
      expect(res.status).to.equal(200);
      expect(res.text).to.equal("ssh-rsa AAAAB3NzaC1yc2E alice@laptop\n");
    });

    it("requests.go:JWTAuthenticateRequest (form body jwt=…, host id PathEscaped or none) and AuthenticatorStatusRequest", async () => {
      const headers = { "Content-Type": "application/x-www-form-urlencoded" };
      const byClaim = await go("POST", `/authn-jwt/k8s/${A}/authenticate`, {
        body: `jwt=${await serviceAccountToken()}`,
        headers,
        as: null,
      });
      expect(byClaim.status, byClaim.text).to.equal(200);
      expect(goNewToken(byClaim.body).sub).to.equal("host/k8s/system:serviceaccount:prod:provider");
      const byUrl = await go("POST", `/authn-jwt/k8s-url/${A}/${goPathEscape("host/secrets-provider")}/authenticate`, {
        body: `jwt=${await serviceAccountToken()}`,
        headers,
        as: null,
      });
      expect(byUrl.status, byUrl.text).to.equal(200);
      expect(goNewToken(byUrl.body).sub).to.equal("host/secrets-provider");
      const status = await go("GET", `/authn-jwt/k8s/${A}/status`);
      expect(status.json()).to.deep.equal({ status: "ok" });
    });
  });

  describe("summon-conjur (cmd/main.go:makeSecretRetriever, on conjur-api-go)", () => {
    /** One conjurapi.Client.RetrieveSecret per variable: GET /secrets/{account}/variable/{PathEscape(id)}, the body as is. */
    const retrieveAll = async (as: Buffer): Promise<void> => {
      for (const [id, value] of Object.entries(VALUES)) {
        const res = await go("GET", `/secrets/${A}/variable/${goPathEscape(id)}`, { as });
        expect(res.status, id).to.equal(200);
        expect(res.body, id).to.deep.equal(Buffer.from(value));
      }
    };

    it("with CONJUR_AUTHN_LOGIN and CONJUR_AUTHN_API_KEY: one authenticate, then each variable's exact bytes (ids with '/', spaces, '+', binary values)", async () => {
      await retrieveAll(await authenticate("host/ci/runner", await apiKeyOf("host:ci/runner")));
    });

    it("with CONJUR_AUTHN_JWT_SERVICE_ID and CONJUR_AUTHN_JWT_HOST_ID: requests.go:JWTAuthenticateRequest, then the same reads", async () => {
      const res = await go("POST", `/authn-jwt/k8s-url/${A}/${goPathEscape("host/secrets-provider")}/authenticate`, {
        body: `jwt=${await serviceAccountToken()}`,
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        as: null,
      });
      expect(res.status, res.text).to.equal(200);
      goNewToken(res.body);
      await retrieveAll(res.body);
    });

    it("a missing variable: 404 with Conjur's JSON error body, which response/error.go:NewConjurError turns into the message summon prints", async () => {
      const res = await go("GET", `/secrets/${A}/variable/${goPathEscape("apps/missing")}`);
      expect(res.status).to.equal(404);
      expect(res.json().error).to.include({ code: "not_found" });
      expect(res.json().error.message).to.be.a("string").and.include("apps/missing");
    });
  });

  describe("Secrets Provider for Kubernetes (secrets-provider-for-k8s pkg/secrets/clients/conjur/, conjur-authn-k8s-client pkg/authenticator/jwt/)", () => {
    /** jwt/requests.go:AuthenticateRequest: {CONJUR_AUTHN_URL}/{account}[/{QueryEscape(CONJUR_AUTHN_LOGIN)}]/authenticate, text/plain body jwt=<file>. */
    const authnJwt = async (service: string, login?: string): Promise<WireResponse> => {
      const jwt = await serviceAccountToken();
      const path = `/authn-jwt/${service}/${A}${login ? `/${goQueryEscape(login)}` : ""}/authenticate`;
      return wire(server.url, "POST", path, {
        body: `jwt=${jwt}`,
        headers: { ...STACK_HEADERS.k8s, "Accept-Encoding": "gzip" },
      });
    };

    it("AuthenticateRequest with CONJUR_AUTHN_LOGIN=host/secrets-provider; conjur.go:NewConjurClient hands the token to conjurapi.NewClientFromToken", async () => {
      const res = await authnJwt("k8s-url", "host/secrets-provider");
      expect(res.status, res.text).to.equal(200);
      expect(goNewToken(res.body).sub).to.equal("host/secrets-provider");
      expect((await go("GET", "/whoami", { as: res.body })).json().username).to.equal("host/secrets-provider");
    });

    it("AuthenticateRequest without CONJUR_AUTHN_LOGIN: the host comes from the token's sub under the identity-path", async () => {
      const res = await authnJwt("k8s");
      expect(res.status, res.text).to.equal(200);
      expect(goNewToken(res.body).sub).to.equal("host/k8s/system:serviceaccount:prod:provider");
    });

    it("conjur_secrets_retriever.go:retrieveConjurSecretsAll: pages /resources/{account}?kind=variable&limit=100[&offset=N] to a short page, then RetrieveBatchSecretsSafe on the full ids", async () => {
      const bulk = Array.from({ length: 101 }, (_, i) => `  - !variable v${i}`).join("\n");
      expect(
        (
          await admin.loadPolicy(
            "POST",
            "root",
            `- !policy\n  id: bulk\n  owner: !host secrets-provider\n  body:\n${bulk}\n`,
          )
        ).status,
      ).to.equal(201);
      for (let i = 0; i < 101; i++) expect((await admin.setSecret(`bulk/v${i}`, `value-${i}`)).status).to.equal(201);
      const as = (await authnJwt("k8s-url", "host/secrets-provider")).body;
      const ids: string[] = [];
      for (let offset = 0; ; offset += 100) {
        const query = encodeSorted(
          [["kind", "variable"], ["limit", "100"], ...(offset ? [["offset", String(offset)] as [string, string]] : [])],
          goQueryEscape,
        );
        const page = (await go("GET", `/resources/${A}?${query}`, { as })).json() as { id: string }[];
        ids.push(...page.map((r) => r.id));
        if (page.length < 100) break;
      }
      expect(ids).to.have.length(105);
      const res = await go("GET", `/secrets?variable_ids=${goQueryEscape(ids.join(","))}`, {
        as,
        headers: { "Accept-Encoding": "base64" },
      });
      expect(res.status, res.text).to.equal(200);
      expect(res.headers["content-encoding"], "variable.go: errors unless Content-Encoding is base64").to.equal(
        "base64",
      );
      const secrets = new Map(
        Object.entries(res.json() as Record<string, string>).map(([id, v]) => [id, strictBase64(v)]),
      );
      expect(secrets.size).to.equal(105);
      expect(secrets.get(`${A}:variable:apps/blob`)).to.deep.equal(BINARY);
      expect(secrets.get(`${A}:variable:bulk/v100`)!.toString()).to.equal("value-100");
    });
  });
});
