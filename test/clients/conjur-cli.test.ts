/**
 * The Conjur CLI v9 (cyberark/conjur-cli-go), the real binary, against Strongroom over http and https.
 * Each check asserts what a user sees, in the shape the CLI shows against Conjur (its messages, and
 * the JSON it pretty-prints from Conjur's answers), not a replay of our own.
 */
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../support/server.js";
import { selfSignedCertificate, type TestCertificate } from "../support/tls.js";
import { built, clientSuite, type Issuer, jwtIssuer, type Run, run, tempDir, VERSIONS } from "./support.js";

const VERSION = VERSIONS["conjur-cli"]!;
const bin = built(`conjur-cli-go-${VERSION}`, "conjur");
const ACCOUNT = "dev";

const APPS_POLICY = `- !variable db/password
- !variable db/user
- !host app1
- !user alice
- !group readers
- !layer workers
- !grant { role: !group readers, member: !host app1 }
- !permit { role: !group readers, privileges: [ read, execute ], resource: !variable db/password }
- !host-factory { id: enroll, layers: [ !layer workers ] }
`;
const ROOT_POLICY = `
- !policy
  id: apps
  body:
${APPS_POLICY.replace(/^/gm, "  ").trimEnd()}
- !policy
  id: conjur/authn-jwt/cli
  body:
  - !webservice
  - !webservice status
  - !variable public-keys
  - !variable issuer
  - !variable audience
  - !variable token-app-property
  - !variable identity-path
  - !group apps
  - !permit { role: !group apps, privilege: [ read, authenticate ], resource: !webservice }
- !policy
  id: jwt-apps
  body:
  - !host { id: workload@example.com, annotations: { authn-jwt/cli/sub: cli-app } }
- !grant { role: !group conjur/authn-jwt/cli/apps, member: !host jwt-apps/workload@example.com }
- !grant { role: !group apps/readers, member: !host jwt-apps/workload@example.com }
`;

/** One CLI user: its own HOME (.conjurrc, .netrc), so nothing touches the machine's. */
function cliUser(extraEnv: Record<string, string> = {}): {
  home: string;
  conjur: (...args: string[]) => Promise<Run>;
  file: (name: string, text: string) => string;
} {
  const home = tempDir("cli");
  return {
    home,
    conjur: (...args) => run(bin.path, args, { env: { HOME: home, ...extraEnv } }),
    file: (name, text) => {
      const path = join(home, name);
      writeFileSync(path, text);
      return path;
    },
  };
}

const ok = (r: Run): Run => {
  expect(r.code, r.out).to.equal(0);
  return r;
};
/** The JSON document the CLI printed after its message lines. */
const json = (r: Run): unknown => JSON.parse(r.stdout.slice(r.stdout.search(/^[[{]/m)));

clientSuite("Conjur CLI (conjur-cli-go)", VERSION, bin, () => {
  let server: TestServer;
  let tlsServer: TestServer;
  let cert: TestCertificate;
  let issuer: Issuer;
  let admin: ReturnType<typeof cliUser>;

  before(async function () {
    this.timeout(60_000);
    cert = selfSignedCertificate();
    const env = { STRONGROOM_AUTHENTICATORS: "authn,authn-jwt/cli" };
    server = await startTestServer({ account: ACCOUNT, env });
    tlsServer = await startTestServer({
      account: ACCOUNT,
      env,
      flags: { "tls-cert": cert.certFile, "tls-key": cert.keyFile },
    });
    issuer = await jwtIssuer();
    admin = cliUser();
  });
  after(async () => {
    await server?.close();
    await tlsServer?.close();
  });

  it("init self-hosted over http (-i, --force-netrc) writes .conjurrc", async () => {
    const r = ok(
      await admin.conjur("init", "self-hosted", "-a", ACCOUNT, "-u", server.url, "-i", "--force-netrc", "--force"),
    );
    expect(r.out).to.include("Wrote configuration to");
    expect(r.out).to.include("--insecure");
  });

  it("login -i admin -p <api key> → Logged in; whoami shows Conjur's whoami document", async () => {
    expect(ok(await admin.conjur("login", "-i", "admin", "-p", server.adminKey)).out).to.equal("Logged in");
    const who = json(ok(await admin.conjur("whoami"))) as Record<string, string>;
    expect(who).to.have.all.keys("client_ip", "user_agent", "account", "username", "token_issued_at");
    expect(who).to.include({ account: ACCOUNT, username: "admin" });
    expect(who.token_issued_at, "as Conjur's whoami prints it").to.match(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+00:00$/,
    );
  });

  it("policy load -b root: Loaded policy 'root' and created_roles with api keys, version", async () => {
    const r = ok(await admin.conjur("policy", "load", "-b", "root", "-f", admin.file("root.yml", ROOT_POLICY)));
    expect(r.stderr.trim()).to.equal("Loaded policy 'root'");
    const body = json(r) as { created_roles: Record<string, { id: string; api_key: string }>; version: number };
    expect(body.version).to.equal(1);
    expect(Object.keys(body.created_roles)).to.include.members([
      `${ACCOUNT}:host:apps/app1`,
      `${ACCOUNT}:user:alice@apps`,
    ]);
    expect(body.created_roles[`${ACCOUNT}:host:apps/app1`]!.api_key).to.match(/^[0-9a-z]{50,}$/);
  });

  it("policy update -b apps (PATCH) and policy replace -b apps (PUT): the apps policy's versions 1 and 2 (root's load was root's version)", async () => {
    const extra = admin.file("extra.yml", "- !variable extra\n");
    const updated = json(ok(await admin.conjur("policy", "update", "-b", "apps", "-f", extra))) as { version: number };
    expect(updated.version).to.equal(1);
    const again = admin.file("apps.yml", `${APPS_POLICY}- !variable extra\n`);
    const replaced = ok(await admin.conjur("policy", "replace", "-b", "apps", "-f", again));
    expect(replaced.stderr.trim()).to.equal("Loaded policy 'apps'");
    expect((json(replaced) as { version: number }).version).to.equal(2);
  });

  it("policy load --dry-run shows the validation result without loading", async () => {
    const r = await admin.conjur(
      "policy",
      "load",
      "-b",
      "apps",
      "--dry-run",
      "-f",
      admin.file("dry.yml", "- !variable dry\n"),
    );
    expect(r.code, r.out).to.equal(0);
    expect(r.out).to.match(/"status":\s*"Valid YAML"/);
    expect((await admin.conjur("resource", "exists", "variable:apps/dry")).out).to.equal("false");
  });

  it("variable set -i … -v …: Value added; get returns the value; get -v 1 the first version", async () => {
    expect(ok(await admin.conjur("variable", "set", "-i", "apps/db/password", "-v", "one")).out).to.equal(
      "Value added",
    );
    expect(ok(await admin.conjur("variable", "set", "-i", "apps/db/password", "-v", "two words&=+ é")).out).to.equal(
      "Value added",
    );
    expect(ok(await admin.conjur("variable", "get", "-i", "apps/db/password")).stdout).to.equal("two words&=+ é\n");
    expect(ok(await admin.conjur("variable", "get", "-i", "apps/db/password", "-v", "1")).stdout).to.equal("one\n");
  });

  it("variable get -i a,b (batch) prints a JSON map keyed by id; an empty one is Conjur's CONJ00076E 404", async () => {
    const missing = await admin.conjur("variable", "get", "-i", "apps/db/password,apps/db/user");
    expect(missing.code).to.equal(1);
    expect(missing.out).to.match(
      /^404 Not Found\. CONJ00076E Variable dev:variable:apps\/db\/user is empty or not found\./,
    );
    ok(await admin.conjur("variable", "set", "-i", "apps/db/user", "-v", "app"));
    expect(json(ok(await admin.conjur("variable", "get", "-i", "apps/db/password,apps/db/user")))).to.deep.equal({
      "apps/db/password": "two words&=+ é",
      "apps/db/user": "app",
    });
  });

  it("list -k variable, -s search, -l limit, -i (inspect): ids, then resource documents", async () => {
    expect(json(ok(await admin.conjur("list", "-k", "variable")))).to.deep.equal(
      [`${ACCOUNT}:variable:apps/db/password`, `${ACCOUNT}:variable:apps/db/user`, `${ACCOUNT}:variable:apps/extra`]
        .concat(
          ["audience", "identity-path", "issuer", "public-keys", "token-app-property"].map(
            (v) => `${ACCOUNT}:variable:conjur/authn-jwt/cli/${v}`,
          ),
        )
        .sort(),
    );
    expect(json(ok(await admin.conjur("list", "-k", "variable", "-s", "db/", "-l", "1")))).to.deep.equal([
      `${ACCOUNT}:variable:apps/db/password`,
    ]);
    const hosts = json(ok(await admin.conjur("list", "-i", "-k", "host", "-s", "app1"))) as Record<string, unknown>[];
    expect(hosts).to.have.length(1);
    expect(hosts[0]).to.include.all.keys(
      "id",
      "owner",
      "policy",
      "permissions",
      "annotations",
      "created_at",
      "restricted_to",
    );
  });

  it("resource show: the resource with its permissions and secrets versions; resource exists: true/false", async () => {
    const shown = json(ok(await admin.conjur("resource", "show", "variable:apps/db/password"))) as {
      id: string;
      permissions: { privilege: string; role: string }[];
      secrets: { version: number }[];
    };
    expect(shown.id).to.equal(`${ACCOUNT}:variable:apps/db/password`);
    expect(shown.permissions.map((p) => p.privilege).sort()).to.deep.equal(["execute", "read"]);
    expect(shown.secrets.map((s) => s.version)).to.deep.equal([1, 2]);
    expect(ok(await admin.conjur("resource", "exists", "variable:apps/db/password")).out).to.equal("true");
    expect(ok(await admin.conjur("resource", "exists", "variable:apps/nothing")).out).to.equal("false");
  });

  it("role members, role memberships, role exists, role show", async () => {
    expect(json(ok(await admin.conjur("role", "members", "group:apps/readers")))).to.include.members([
      `${ACCOUNT}:host:apps/app1`,
      `${ACCOUNT}:host:jwt-apps/workload@example.com`,
    ]);
    expect(json(ok(await admin.conjur("role", "memberships", "host:apps/app1")))).to.include.members([
      `${ACCOUNT}:group:apps/readers`,
      `${ACCOUNT}:host:apps/app1`,
    ]);
    expect(ok(await admin.conjur("role", "exists", "host:apps/app1")).out).to.equal("true");
    expect(ok(await admin.conjur("role", "exists", "host:apps/none")).out).to.equal("false");
    expect(json(ok(await admin.conjur("role", "show", "group:apps/readers")))).to.include({
      id: `${ACCOUNT}:group:apps/readers`,
    });
  });

  it("check <resource> <privilege> [-r role]: true / false", async () => {
    expect(ok(await admin.conjur("check", "variable:apps/db/password", "execute")).out).to.equal("true");
    expect(
      ok(await admin.conjur("check", "-r", "host:apps/app1", "variable:apps/db/password", "execute")).out,
    ).to.equal("true");
    expect(ok(await admin.conjur("check", "-r", "host:apps/app1", "variable:apps/db/password", "update")).out).to.equal(
      "false",
    );
  });

  it("host rotate-api-key -i: the new key, which then logs the host in", async () => {
    const key = ok(await admin.conjur("host", "rotate-api-key", "-i", "apps/app1")).out;
    expect(key).to.match(/^[0-9a-z]{50,}$/);
    const host = cliUser();
    ok(await host.conjur("init", "self-hosted", "-a", ACCOUNT, "-u", server.url, "-i", "--force-netrc", "--force"));
    expect(ok(await host.conjur("login", "-i", "host/apps/app1", "-p", key)).out).to.equal("Logged in");
    expect(ok(await host.conjur("variable", "get", "-i", "apps/db/password")).stdout).to.equal("two words&=+ é\n");
    expect((await host.conjur("variable", "set", "-i", "apps/db/password", "-v", "x")).out).to.match(/^403 Forbidden/);
  });

  it("user rotate-api-key -i alice@apps, login as alice, user change-password, logout, login with the password", async () => {
    const key = ok(await admin.conjur("user", "rotate-api-key", "-i", "alice@apps")).out;
    const alice = cliUser();
    ok(await alice.conjur("init", "self-hosted", "-a", ACCOUNT, "-u", server.url, "-i", "--force-netrc", "--force"));
    ok(await alice.conjur("login", "-i", "alice@apps", "-p", key));
    expect(ok(await alice.conjur("user", "change-password", "-p", "N3w-Passw0rd!x")).out).to.equal("Password changed");
    expect(ok(await alice.conjur("logout")).out).to.equal("Logged out");
    expect((await alice.conjur("whoami")).code).to.equal(1);
    ok(await alice.conjur("login", "-i", "alice@apps", "-p", "N3w-Passw0rd!x"));
    expect((json(ok(await alice.conjur("whoami"))) as { username: string }).username).to.equal("alice@apps");
  });

  it("hostfactory tokens create (--duration, --cidr, -n): [{expiration, cidr, token}]", async () => {
    const tokens = json(
      ok(
        await admin.conjur(
          "hostfactory",
          "tokens",
          "create",
          "-i",
          "apps/enroll",
          "--duration",
          "1h",
          "--cidr",
          "127.0.0.1/32,10.0.0.0/24",
          "-n",
          "2",
        ),
      ),
    ) as { expiration: string; cidr: string[]; token: string }[];
    expect(tokens).to.have.length(2);
    for (const t of tokens) {
      expect(t).to.have.all.keys("expiration", "cidr", "token");
      expect(t.cidr).to.deep.equal(["127.0.0.1/32", "10.0.0.0/24"]);
      expect(t.expiration).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
  });

  it("hostfactory hosts create -i -t: the host with its api_key; tokens revoke; the revoked token is refused", async () => {
    const [issued] = json(
      ok(await admin.conjur("hostfactory", "tokens", "create", "-i", "apps/enroll", "--duration", "10m")),
    ) as { token: string }[];
    const host = json(
      ok(await admin.conjur("hostfactory", "hosts", "create", "-i", "enrolled-1", "-t", issued!.token)),
    ) as Record<string, unknown>;
    expect(host).to.include.all.keys(
      "id",
      "owner",
      "api_key",
      "permissions",
      "annotations",
      "restricted_to",
      "created_at",
    );
    expect(host.owner).to.equal(`${ACCOUNT}:host_factory:apps/enroll`);
    expect(ok(await admin.conjur("hostfactory", "tokens", "revoke", "-t", issued!.token)).out).to.equal(
      "Token has been revoked.",
    );
    expect(
      (await admin.conjur("hostfactory", "hosts", "create", "-i", "enrolled-2", "-t", issued!.token)).out,
    ).to.match(/^401 Unauthorized/);
  });

  it("authenticator enable / disable -i authn-jwt/cli (after its variables are set)", async () => {
    const set = (name: string, value: string) =>
      admin.conjur("variable", "set", "-i", `conjur/authn-jwt/cli/${name}`, "-v", value);
    ok(await set("public-keys", JSON.stringify({ type: "jwks", value: issuer.jwks })));
    ok(await set("issuer", "jwt-server"));
    ok(await set("audience", "conjur"));
    ok(await set("token-app-property", "email"));
    ok(await set("identity-path", "jwt-apps"));
    expect(ok(await admin.conjur("authenticator", "disable", "-i", "authn-jwt/cli")).out).to.equal(
      "Authenticator authn-jwt/cli is disabled",
    );
    expect(ok(await admin.conjur("authenticator", "enable", "-i", "authn-jwt/cli")).out).to.equal(
      "Authenticator authn-jwt/cli is enabled",
    );
  });

  it("init -t jwt --service-id --jwt-file over http, then login and whoami as the JWT's host", async () => {
    const jwtUser = cliUser();
    const jwt = jwtUser.file(
      "jwt",
      await issuer.mint({ iss: "jwt-server", aud: "conjur", sub: "cli-app", email: "workload@example.com" }),
    );
    ok(
      await jwtUser.conjur(
        "init",
        "self-hosted",
        "-a",
        ACCOUNT,
        "-u",
        server.url,
        "-i",
        "--force-netrc",
        "--force",
        "-t",
        "jwt",
        "--service-id",
        "cli",
        "--jwt-file",
        jwt,
      ),
    );
    expect(ok(await jwtUser.conjur("login")).out).to.equal("Logged in");
    expect((json(ok(await jwtUser.conjur("whoami"))) as { username: string }).username).to.equal(
      "host/jwt-apps/workload@example.com",
    );
    expect(ok(await jwtUser.conjur("variable", "get", "-i", "apps/db/password")).stdout).to.equal("two words&=+ é\n");
    expect(ok(await jwtUser.conjur("logout")).out).to.equal("Logged out");
  });

  it("https: init --ca-cert <our CA>, login, whoami, policy load, variable set/get", async () => {
    const user = cliUser();
    const r = ok(
      await user.conjur(
        "init",
        "self-hosted",
        "-a",
        ACCOUNT,
        "-u",
        tlsServer.url,
        "--ca-cert",
        cert.certFile,
        "--force-netrc",
        "--force",
      ),
    );
    expect(r.out).to.include("Wrote configuration to");
    ok(await user.conjur("login", "-i", "admin", "-p", tlsServer.adminKey));
    expect((json(ok(await user.conjur("whoami"))) as { username: string }).username).to.equal("admin");
    ok(await user.conjur("policy", "load", "-b", "root", "-f", user.file("p.yml", "- !variable tls/one\n")));
    ok(await user.conjur("variable", "set", "-i", "tls/one", "-v", "over tls"));
    expect(ok(await user.conjur("variable", "get", "-i", "tls/one")).stdout).to.equal("over tls\n");
  });

  it("https: init --self-signed fetches and trusts the server's certificate; without a CA the CLI asks (and says no on empty input)", async () => {
    const user = cliUser();
    const r = ok(
      await user.conjur(
        "init",
        "self-hosted",
        "-a",
        ACCOUNT,
        "-u",
        tlsServer.url,
        "--self-signed",
        "--force-netrc",
        "--force",
      ),
    );
    expect(r.out).to.match(/Wrote certificate to .*conjur-server\.pem/);
    ok(await user.conjur("login", "-i", "admin", "-p", tlsServer.adminKey));
    expect((json(ok(await user.conjur("whoami"))) as { username: string }).username).to.equal("admin");
    const asked = await cliUser().conjur(
      "init",
      "self-hosted",
      "-a",
      ACCOUNT,
      "-u",
      tlsServer.url,
      "--force-netrc",
      "--force",
    );
    expect(asked.code).to.equal(1);
    expect(asked.out).to.include("Do you want to trust this certificate?");
  });

  it("https: init -t jwt with --ca-cert (the CLI's JWT probe ignores --ca-cert, so SSL_CERT_FILE carries our CA), login", async () => {
    await tlsJwtSetup();
    const user = cliUser({ SSL_CERT_FILE: cert.certFile });
    const jwt = user.file(
      "jwt",
      await issuer.mint({ iss: "jwt-server", aud: "conjur", sub: "cli-app", email: "workload@example.com" }),
    );
    ok(
      await user.conjur(
        "init",
        "self-hosted",
        "-a",
        ACCOUNT,
        "-u",
        tlsServer.url,
        "--ca-cert",
        cert.certFile,
        "--force-netrc",
        "--force",
        "-t",
        "jwt",
        "--service-id",
        "cli",
        "--jwt-file",
        jwt,
      ),
    );
    expect(ok(await user.conjur("login")).out).to.equal("Logged in");
    expect((json(ok(await user.conjur("whoami"))) as { username: string }).username).to.equal(
      "host/jwt-apps/workload@example.com",
    );
  });

  /** The https server gets the same authn-jwt set-up, through the CLI. */
  async function tlsJwtSetup(): Promise<void> {
    const user = cliUser();
    ok(
      await user.conjur(
        "init",
        "self-hosted",
        "-a",
        ACCOUNT,
        "-u",
        tlsServer.url,
        "--ca-cert",
        cert.certFile,
        "--force-netrc",
        "--force",
      ),
    );
    ok(await user.conjur("login", "-i", "admin", "-p", tlsServer.adminKey));
    ok(await user.conjur("policy", "load", "-b", "root", "-f", user.file("root.yml", ROOT_POLICY)));
    for (const [name, value] of [
      ["public-keys", JSON.stringify({ type: "jwks", value: issuer.jwks })],
      ["issuer", "jwt-server"],
      ["audience", "conjur"],
      ["token-app-property", "email"],
      ["identity-path", "jwt-apps"],
    ] as const) {
      ok(await user.conjur("variable", "set", "-i", `conjur/authn-jwt/cli/${name}`, "-v", value));
    }
  }

  it("authenticate prints an access token (JSON) and -H an Authorization header; logout", async () => {
    const token = json(ok(await admin.conjur("authenticate"))) as Record<string, string>;
    expect(token).to.have.all.keys("protected", "payload", "signature");
    expect(ok(await admin.conjur("authenticate", "-H")).out).to.match(/^Authorization: Token token="[A-Za-z0-9+/=]+"$/);
    expect(ok(await admin.conjur("logout")).out).to.equal("Logged out");
  });
});
