/**
 * CyberArk's Python and Ruby Conjur SDKs, request for request (conjur-api-python 32b3bbc0 on
 * aiohttp/yarl, conjur-api-ruby 86d15d4f on rest-client): each test replays the exact requests
 * one SDK function sends and reads the answer as that SDK does. The Go clients:
 * official-clients.test.ts; more Ruby shapes (trailing slashes, deleted roles): conjur-clients.test.ts.
 */
import { expect } from "chai";
import {
  basicAuth,
  cgiEscape,
  encodeSorted,
  fullyEscape,
  NET_HTTP_DEFAULT_TYPE,
  PY_TEXT,
  pythonB64decode,
  STACK_HEADERS,
  strictBase64,
  tokenHeader,
  versionAtLeast,
  wire,
} from "../support/conjur-client-wire.js";
import { A, BINARY, FORMISH, startClientsFixture, type ClientsFixture } from "../support/official-clients-fixture.js";

describe("official Conjur clients (Python and Ruby SDKs), request for request", () => {
  let fixture: ClientsFixture;
  let server: ClientsFixture["server"];
  let admin: ClientsFixture["admin"];
  const apiKeyOf = (role: string) => fixture.apiKeyOf(role);

  before(async () => {
    fixture = await startClientsFixture();
    ({ server, admin } = fixture);
  });
  after(() => server.close());

  describe('Python SDK (conjur-api-python conjur_api/http/api.py; aiohttp sends every str body, even "", as text/plain; charset=utf-8)', () => {
    let token: string;
    let aliceKey: string;
    const py = (
      method: string,
      path: string,
      opts: { body?: string; headers?: Record<string, string>; as?: string | null } = {},
    ) =>
      wire(server.url, method, path, {
        body: opts.body ?? "",
        headers: {
          ...STACK_HEADERS.python,
          "Content-Type": PY_TEXT,
          ...(opts.as === null ? {} : { Authorization: tokenHeader(opts.as ?? token) }),
          ...opts.headers,
        },
      });
    const adminToken = async (): Promise<string> =>
      (await py("POST", `/authn/${A}/admin/authenticate`, { body: server.adminKey, as: null })).text;
    before(async () => {
      aliceKey = await apiKeyOf("user:alice");
    });

    it("authn_authentication_strategy.py: _send_login_request (Basic), _send_authenticate_request (login quote()d), _calculate_token_expiration (b64decode of the payload)", async () => {
      const login = await py("GET", `/authn/${A}/login`, {
        headers: { Authorization: basicAuth("alice", aliceKey) },
        as: null,
      });
      expect(login.text).to.equal(aliceKey);
      const res = await py("POST", `/authn/${A}/${fullyEscape("alice")}/authenticate`, { body: aliceKey, as: null });
      expect(res.status).to.equal(200);
      token = res.text;
      const exp = JSON.parse(pythonB64decode(JSON.parse(token).payload).toString()).exp;
      expect(exp * 1000).to.be.above(Date.now());
      const host = await py("POST", `/authn/${A}/${fullyEscape("host/ci/runner")}/authenticate`, {
        body: await apiKeyOf("host:ci/runner"),
        as: null,
      });
      expect(host.status, "host%2Fci%2Frunner").to.equal(200);
    });

    it("api.py:whoami, and get_server_info (no token): 401/404 as from Conjur OSS", async () => {
      expect((await py("GET", "/whoami")).json()).to.include({ username: "alice" });
      expect([401, 404]).to.include((await py("GET", "/info", { as: null })).status);
    });

    it("api.py:resources_list (list_constraints as the query; ids from resource['id']) and check_privilege (role= empty is the caller; 404 → False)", async () => {
      const ids = (await py("GET", `/resources/${A}?kind=variable&search=apps&limit=10`))
        .json()
        .map((r: { id: string }) => r.id);
      expect(ids).to.include.members([`${A}:variable:apps/db/password`, `${A}:variable:apps/a+b`]);
      const check = (privilege: string, role = "") =>
        py(
          "GET",
          `/resources/${A}/variable/${fullyEscape("apps/db/password")}?check=true&role=${role}&privilege=${privilege}`,
        );
      expect((await check("execute")).status).to.equal(204);
      expect((await check("execute", fullyEscape(`${A}:user:alice`))).status).to.equal(204);
      expect((await check("update")).status).to.equal(404);
    });

    it("api.py:get_resource, resource_exists and role_exists (HEAD; 404 → False), get_role, role_memberships (direct: each ['role']; else the ids)", async () => {
      const variable = `/resources/${A}/variable/${fullyEscape("apps/db/password")}`;
      expect((await py("GET", variable)).json().id).to.equal(`${A}:variable:apps/db/password`);
      expect((await py("HEAD", variable)).status).to.equal(200);
      expect((await py("HEAD", `/resources/${A}/variable/${fullyEscape("apps/nothing")}`)).status).to.equal(404);
      expect((await py("HEAD", `/roles/${A}/group/${fullyEscape("apps/readers")}`)).status).to.equal(200);
      expect((await py("GET", `/roles/${A}/group/${fullyEscape("apps/readers")}`)).json().id).to.equal(
        `${A}:group:apps/readers`,
      );
      expect(
        (await py("GET", `/roles/${A}/group/developers?memberships`)).json().map((m: { role: string }) => m.role),
      ).to.deep.equal([`${A}:group:apps/readers`]);
      expect((await py("GET", `/roles/${A}/group/developers?all`)).json()).to.have.members([
        `${A}:group:developers`,
        `${A}:group:apps/readers`,
      ]);
    });

    it("api.py:get_variable (response.content: the bytes; version as a query) and get_variables (yarl leaves ':' and ',' as they are; keys lose the account:variable: prefix)", async () => {
      expect((await py("GET", `/secrets/${A}/variable/${fullyEscape("apps/blob")}`)).body).to.deep.equal(BINARY);
      expect((await py("GET", `/secrets/${A}/variable/${fullyEscape("apps/db/password")}?version=1`)).text).to.equal(
        "s3cret",
      );
      const res = await py(
        "GET",
        `/secrets?variable_ids=${A}:variable:apps/db/password,${A}:variable:apps/path+with+spaces,${A}:variable:apps/a%2Bb`,
      );
      expect(res.status, res.text).to.equal(200);
      const prefix = `${A}:variable:`.length;
      expect(Object.fromEntries(Object.entries(res.json()).map(([k, v]) => [k.slice(prefix), v]))).to.deep.equal({
        "apps/db/password": "s3cret",
        "apps/path with spaces": "spaced",
        "apps/a+b": "plus",
      });
    });

    it("api.py:load_policy_file and update_policy_file (text body; response.json), set_variable (response.text)", async () => {
      const loaded = await py("POST", `/policies/${A}/policy/apps`, {
        body: "- !variable py/var\n- !host py-host\n",
        as: await adminToken(),
      });
      expect(loaded.status, loaded.text).to.equal(201);
      expect(loaded.json().created_roles[`${A}:host:apps/py-host`].api_key).to.be.a("string");
      const permit = "- !permit { role: !user /alice, privileges: [ read, update ], resource: !variable py/var }\n";
      expect(
        (await py("PATCH", `/policies/${A}/policy/apps`, { body: permit, as: await adminToken() })).status,
      ).to.equal(201);
      const set = await py("POST", `/secrets/${A}/variable/${fullyEscape("apps/py/var")}`, { body: FORMISH });
      expect(set.status).to.equal(201);
      expect(set.text).to.equal("");
      expect((await admin.getSecret("apps/py/var")).text).to.equal(FORMISH);
    });

    it("api.py:rotate_other_api_key (?role=<full id> through yarl), rotate_personal_api_key (Basic), change_personal_password (Basic, new password as the body)", async () => {
      const other = await py("PUT", `/authn/${A}/api_key?role=${A}:user:alice`, { as: await adminToken() });
      expect(other.status).to.equal(200);
      const own = await py("PUT", `/authn/${A}/api_key`, {
        headers: { Authorization: basicAuth("alice", other.text) },
        as: null,
      });
      expect(own.status).to.equal(200);
      aliceKey = own.text;
      const changed = await py("PUT", `/authn/${A}/password`, {
        body: "Str0ng&Secure-Pass",
        headers: { Authorization: basicAuth("alice", aliceKey) },
        as: null,
      });
      expect(changed.status, changed.text).to.equal(204);
      expect(
        (
          await py("GET", `/authn/${A}/login`, {
            headers: { Authorization: basicAuth("alice", "Str0ng&Secure-Pass") },
            as: null,
          })
        ).text,
      ).to.equal(aliceKey);
    });

    it("api.py:create_token (urlencode: `cidr%5B%5D=` when no CIDR, naive utcnow().isoformat()), create_host (the raw token), revoke_token", async () => {
      const expiration = new Date(Date.now() + 3_600_000).toISOString().replace("Z", "123");
      const body = `host_factory=${fullyEscape(`${A}:host_factory:apps/enroll`)}&cidr%5B%5D=&expiration=${fullyEscape(expiration)}`;
      const created = await py("POST", "/host_factory_tokens", {
        body,
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      });
      expect(created.status, created.text).to.equal(200);
      const [issued] = created.json() as { token: string; cidr: string[] }[];
      expect(issued!.cidr).to.deep.equal([]);
      const form = {
        "Content-Type": "application/x-www-form-urlencoded",
        Authorization: `Token token="${issued!.token}"`,
      };
      const host = await py("POST", "/host_factories/hosts", {
        body: "id=py-enrolled&annotations%5Bteam%5D=green",
        headers: form,
        as: null,
      });
      expect(host.status, host.text).to.equal(201);
      expect(host.json().annotations).to.deep.include({ name: "team", value: "green" });
      expect((await py("DELETE", `/host_factory_tokens/${fullyEscape(issued!.token)}`)).status).to.equal(204);
    });

    it("api.py:list_permitted_roles and list_members_of_role (yarl merges its query: ?members=&kind=group, which Conjur reads as a filter on the members' kind)", async () => {
      const permitted = await py(
        "GET",
        `/resources/${A}/variable/${fullyEscape("apps/db/password")}?permitted_roles=true&privilege=execute`,
      );
      expect(permitted.json()).to.include(`${A}:user:alice`);
      const members = await py("GET", `/roles/${A}/group/${fullyEscape("apps/readers")}?members=&kind=group`);
      expect(members.json().map((m: { member: string }) => m.member)).to.deep.equal([`${A}:group:developers`]);
      const hosts = await py(
        "GET",
        `/roles/${A}/group/${fullyEscape("apps/readers")}?members=&kind=host&search=RUN&limit=5`,
      );
      expect(hosts.json().map((m: { member: string }) => m.member)).to.deep.equal([`${A}:host:ci/runner`]);
    });
  });

  describe("Ruby SDK (conjur-api-ruby lib/conjur/api/router.rb on rest-client; Net::HTTP labels a String body application/x-www-form-urlencoded)", () => {
    let token: string;
    const rb = (
      method: string,
      path: string,
      opts: { body?: string; headers?: Record<string, string>; as?: string | null } = {},
    ) =>
      wire(server.url, method, path, {
        ...(opts.body !== undefined ? { body: opts.body } : {}),
        headers: {
          ...STACK_HEADERS.ruby,
          ...(opts.body !== undefined ? { "Content-Type": NET_HTTP_DEFAULT_TYPE } : {}),
          ...(opts.as === null ? {} : { Authorization: tokenHeader(opts.as ?? token) }),
          ...opts.headers,
        },
      });
    /** id.rb:to_url_path — account/kind/identifier, each fully_escape'd. */
    const urlPath = (id: string): string =>
      id.split(":").slice(0, 2).concat(id.split(":").slice(2).join(":")).map(fullyEscape).join("/");
    /** api/authn.rb:API.authenticate → JSON.parse; base.rb:credentials sends token.to_json. */
    const authenticate = async (login: string, apiKey: string): Promise<string> => {
      const res = await rb("POST", `/authn/${A}/${fullyEscape(login)}/authenticate`, {
        body: apiKey,
        headers: { "Content-Type": "text/plain" },
        as: null,
      });
      expect(res.status, res.text).to.equal(200);
      const parsed = res.json();
      expect(JSON.parse(strictBase64(parsed.payload).toString()).sub, "base.rb:jwt_username").to.equal(login);
      return JSON.stringify(parsed);
    };
    before(async () => {
      token = await authenticate("admin", server.adminKey);
    });

    it("api/authn.rb: API.login (Basic) and API.authenticate (fully_escape keeps '~'); base.rb:jwt_username strict_decode64s the payload", async () => {
      const key = await apiKeyOf("host:ap~1");
      expect(
        (await rb("GET", `/authn/${A}/login`, { headers: { Authorization: basicAuth("host/ap~1", key) }, as: null }))
          .text,
      ).to.equal(key);
      const tilde = await authenticate("host/ap~1", key);
      expect((await rb("GET", "/whoami", { as: tilde })).json().username).to.equal("host/ap~1");
    });

    it("api/server_version.rb: /info fails (→ nil), then GET / (Accept */*) is HTML whose <dd>Version …</dd> version_from_root reads; version_check.rb needs ≥ 1.21.1", async () => {
      expect((await rb("GET", "/info", { as: null })).status).to.be.oneOf([401, 404]);
      const root = await rb("GET", "/", { as: null });
      expect(root.headers["content-type"]).to.not.include("application/json");
      const version = /<d[dt]>\s*Version\s*(?:<\/d[dt]>\s*<dd>\s*)?([^\s<]+)\s*<\/dd>/.exec(root.text)?.[1];
      expect(versionAtLeast(version ?? "", "1.21.1")).to.equal(true);
    });

    it("api/policies.rb: load_policy (…/policy/apps), dry_run_policy (…/policy/apps/?dryRun=true; the 422 body parsed), fetch_policy (…/policy/apps/ with a Content-Type header)", async () => {
      const loaded = await rb("POST", `/policies/${A}/policy/${fullyEscape("apps")}`, { body: "- !variable rb/var\n" });
      expect(loaded.status, loaded.text).to.equal(201);
      expect(loaded.json()).to.have.keys("created_roles", "version");
      const dry = await rb("PUT", `/policies/${A}/policy/apps/?dryRun=true`, { body: "- !variable [\n" });
      expect(dry.status).to.equal(422);
      expect(dry.json().status).to.equal("Invalid YAML");
      const yaml = await rb("GET", `/policies/${A}/policy/apps/`, {
        headers: { "Content-Type": "application/x-yaml" },
      });
      expect(yaml.text).to.include("rb/var");
      const json = await rb("GET", `/policies/${A}/policy/apps/?depth=1&limit=1000`, {
        headers: { "Content-Type": "application/json" },
      });
      expect(JSON.stringify(json.json())).to.include("rb/var");
    });

    it("variable.rb: add_value (raw value), value (…/ and …/?version=1); api/variables.rb:variable_values (/secrets/?variable_ids=…, CGI-escaped with %2C put back)", async () => {
      const path = `/secrets/${urlPath(`${A}:variable:apps/rb/var`)}`;
      expect(path).to.equal(`/secrets/${A}/variable/apps%2Frb%2Fvar`);
      for (const value of ["one", FORMISH]) expect((await rb("POST", path, { body: value })).status).to.equal(201);
      expect((await rb("GET", `${path}/`)).text).to.equal(FORMISH);
      expect((await rb("GET", `${path}/?version=1`)).text).to.equal("one");
      const ids = [`${A}:variable:apps/rb/var`, `${A}:variable:apps/path with spaces`].join(",");
      const values = await rb("GET", `/secrets/?variable_ids=${cgiEscape(ids).replace(/%2C/g, ",")}`);
      expect(values.json()).to.deep.equal({
        [`${A}:variable:apps/rb/var`]: FORMISH,
        [`${A}:variable:apps/path with spaces`]: "spaced",
      });
    });

    it("api/resources.rb:resources (…/variable?limit=…&search=…, count), acts_as_resource.rb: exists? (HEAD), permitted_roles, permitted? (…/?check=true&privilege=…&role=…)", async () => {
      expect(
        (
          await rb(
            "GET",
            `/resources/${A}/variable?${encodeSorted(
              [
                ["search", "apps"],
                ["limit", "2"],
              ],
              cgiEscape,
            )}`,
          )
        ).json(),
      ).to.have.length(2);
      expect((await rb("GET", `/resources/${A}/host_factory?count=true`)).json()).to.deep.equal({ count: 1 });
      const resource = `/resources/${urlPath(`${A}:variable:apps/db/password`)}`;
      expect((await rb("HEAD", resource)).status).to.equal(200);
      expect((await rb("HEAD", `/resources/${urlPath(`${A}:variable:missing`)}`)).status).to.equal(404);
      expect((await rb("GET", `${resource}/?permitted_roles=true&privilege=execute`)).json()).to.include(
        `${A}:host:ci/runner`,
      );
      const permitted = (privilege: string) =>
        rb(
          "GET",
          `${resource}/?${encodeSorted(
            [
              ["check", "true"],
              ["privilege", privilege],
              ["role", `${A}:user:alice`],
            ],
            cgiEscape,
          )}`,
        );
      expect((await permitted("execute")).status).to.equal(204);
      expect((await permitted("update")).status).to.equal(404);
    });

    it("acts_as_role.rb: members (…/?kind%5B%5D=host&members=true), memberships (…/?all=true&filter%5B%5D=…, …/?memberships=true), exists? (HEAD /roles/…)", async () => {
      const role = `/roles/${urlPath(`${A}:group:apps/readers`)}`;
      const hosts = await rb(
        "GET",
        `${role}/?${encodeSorted(
          [
            ["members", "true"],
            ["kind[]", "host"],
          ],
          cgiEscape,
        )}`,
      );
      expect(hosts.json().map((m: { member: string }) => m.member))
        .to.include(`${A}:host:ci/runner`)
        .and.not.include(`${A}:group:developers`);
      const alice = `/roles/${urlPath(`${A}:user:alice`)}`;
      const filtered = await rb(
        "GET",
        `${alice}/?${encodeSorted(
          [
            ["all", "true"],
            ["filter[]", `${A}:group:apps/readers`],
          ],
          cgiEscape,
        )}`,
      );
      expect(filtered.json()).to.deep.equal([`${A}:group:apps/readers`]);
      expect((await rb("GET", `${alice}/?memberships=true`)).json().map((m: { role: string }) => m.role)).to.deep.equal(
        [`${A}:group:developers`],
      );
      expect((await rb("HEAD", role)).status).to.equal(200);
    });

    it("host_factory.rb:create_tokens (form: expiration with an offset, host_factory, count, cidr[]) read back with DateTime.iso8601; api/host_factories.rb: create_host (attributes['id']), revoke", async () => {
      const target = Date.now() + 7_200_000;
      const expiration = `${new Date(target + 7_200_000).toISOString().slice(0, 19)}+02:00`; // Time#iso8601 in a UTC+2 zone
      const body = `expiration=${cgiEscape(expiration)}&host_factory=${cgiEscape(`${A}:host_factory:apps/enroll`)}&count=1&cidr%5B%5D=${cgiEscape("127.0.0.0/8")}`;
      const created = await rb("POST", "/host_factory_tokens", { body });
      expect(created.status, created.text).to.equal(200);
      const [issued] = created.json() as { token: string; expiration: string; cidr: string[] }[];
      expect(issued!.expiration).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
      expect(Math.abs(Date.parse(issued!.expiration) - target)).to.be.below(1000);
      expect(issued!.cidr).to.deep.equal(["127.0.0.0/8"]);
      const host = await rb("POST", "/host_factories/hosts", {
        body: "annotations%5Bteam%5D=red&id=rb-enrolled",
        headers: { Authorization: `Token token="${issued!.token}"` },
      });
      expect(host.status, host.text).to.equal(201);
      expect(host.json().id).to.equal(`${A}:host:rb-enrolled`);
      expect((await rb("DELETE", `/host_factory_tokens/${issued!.token}`)).status).to.equal(204);
    });

    it("api/pubkeys.rb:public_keys (no token), acts_as_user.rb:rotate_api_key (?role=<id>, empty body), API.rotate_api_key (Basic), API.update_password; api/authenticators.rb:authenticator_list", async () => {
      expect((await rb("GET", `/public_keys/${A}/user/${fullyEscape("alice")}`, { as: null })).text).to.equal(
        "ssh-rsa AAAAB3NzaC1yc2E alice@laptop\n",
      );
      const other = await rb("PUT", `/authn/${A}/api_key?role=${A}:host:ci/runner`, { body: "" });
      expect(other.status).to.equal(200);
      const own = await rb("PUT", `/authn/${A}/api_key`, {
        body: "",
        headers: { Authorization: basicAuth("host/ci/runner", other.text) },
        as: null,
      });
      expect(own.status).to.equal(200);
      await authenticate("host/ci/runner", own.text);
      const changed = await rb("PUT", `/authn/${A}/password`, {
        body: "An0ther&Secure-Pass",
        headers: { Authorization: basicAuth("alice", await apiKeyOf("user:alice")) },
        as: null,
      });
      expect(changed.status).to.equal(204);
      const list = (await rb("GET", "/authenticators", { as: null })).json();
      expect(list.enabled).to.include.members(["authn", "authn-jwt/k8s"]);
    });
  });
});
