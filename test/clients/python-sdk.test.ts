/**
 * CyberArk's Python SDK (`conjur-api` from PyPI, in its own venv) against Strongroom, for real:
 * python-sdk.py runs each SDK call and reports; each of its checks is one row check here.
 */
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../support/server.js";
import { selfSignedCertificate, type TestCertificate } from "../support/tls.js";
import { built, clientSuite, jwtIssuer, run, tempDir, VERSIONS } from "./support.js";

const VERSION = VERSIONS["python-sdk"]!;
const python = built(`python-conjur-api-${VERSION}`, "venv/bin/python");
const ACCOUNT = "dev";

const POLICY = `
- !policy
  id: py
  body:
  - !variable secret
  - !variable other
  - !host { id: app, annotations: { authn-jwt/py/sub: py-app } }
  - !user bob
  - !group readers
  - !layer workers
  - !grant { role: !group readers, member: !host app }
  - !permit { role: !group readers, privileges: [ read, execute ], resource: !variable secret }
  - !host-factory { id: enroll, layers: [ !layer workers ] }
- !policy
  id: conjur/authn-jwt/py
  body:
  - !webservice
  - !variable public-keys
  - !variable issuer
  - !variable token-app-property
  - !variable identity-path
  - !group apps
  - !permit { role: !group apps, privilege: [ read, authenticate ], resource: !webservice }
- !grant { role: !group conjur/authn-jwt/py/apps, member: !host py/app }
`;

const CHECKS = [
  "whoami",
  "load_policy_file + update_policy_file",
  "dry run",
  "set / get (version) / get_many",
  "list with constraints",
  "resources, roles, memberships, members, permitted roles",
  "check_privilege",
  "a host reads with its API key",
  "rotate_other_api_key",
  "host factory: create_token, create_host, revoke_token",
  "change_personal_password, login, rotate_personal_api_key",
  "set_authenticator_state",
  "JWT authentication strategy",
  "https with CA_BUNDLE",
  "server_version",
];

clientSuite("Python SDK (conjur-api)", VERSION, python, () => {
  let server: TestServer;
  let tlsServer: TestServer;
  let cert: TestCertificate;
  let results: Map<string, { ok: boolean; detail: unknown }>;

  before(async function () {
    this.timeout(120_000);
    cert = selfSignedCertificate();
    const env = { STRONGROOM_AUTHENTICATORS: "authn,authn-jwt/py" };
    server = await startTestServer({ account: ACCOUNT, env });
    tlsServer = await startTestServer({
      account: ACCOUNT,
      flags: { "tls-cert": cert.certFile, "tls-key": cert.keyFile },
    });
    const issuer = await jwtIssuer();
    const dir = tempDir("py");
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const r = await run(python.path, [join(import.meta.dirname, "python-sdk.py")], {
      timeoutMs: 100_000,
      env: {
        HOME: dir,
        URL: server.url,
        ACCOUNT,
        ADMIN_KEY: server.adminKey,
        TLS_URL: tlsServer.url,
        TLS_ADMIN_KEY: tlsServer.adminKey,
        CA_FILE: cert.certFile,
        POLICY_FILE: file("root.yml", POLICY),
        EXTRA_POLICY_FILE: file("extra.yml", "- !variable extra\n"),
        JWKS: JSON.stringify({ type: "jwks", value: issuer.jwks }),
        JWT: await issuer.mint({ iss: "https://ci.example", sub: "py-app", workload: "app" }),
      },
    });
    const lastLine = r.stdout.trim().split("\n").pop() ?? "";
    expect(r.code, r.out.slice(-3000)).to.equal(0);
    results = new Map(
      (JSON.parse(lastLine) as { name: string; ok: boolean; detail: unknown }[]).map((c) => [c.name, c]),
    );
  });
  after(async () => {
    await server?.close();
    await tlsServer?.close();
  });

  for (const name of CHECKS) {
    it(name, () => {
      const result = results.get(name);
      expect(result, `python-sdk.py reported no check "${name}"`).to.not.equal(undefined);
      expect(result!.ok, String(result!.detail)).to.equal(true);
    });
  }
});
