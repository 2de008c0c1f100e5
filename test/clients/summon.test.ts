/**
 * summon + summon-conjur, the real binaries: `summon --provider summon-conjur env` with a secrets.yml
 * gives the variables as environment, with an API key (http and https) and with a JWT.
 */
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../support/server.js";
import { selfSignedCertificate, type TestCertificate } from "../support/tls.js";
import { adminOf, built, clientSuite, type Issuer, jwtIssuer, run, tempDir, VERSIONS } from "./support.js";

const SUMMON = VERSIONS.summon!;
const PROVIDER = VERSIONS["summon-conjur"]!;
const summon = built(`summon-${SUMMON}`, "summon");
const provider = built(`summon-conjur-${PROVIDER}`, "summon-conjur");
const ACCOUNT = "dev";

const POLICY = `
- !policy
  id: app
  body:
  - !variable db/password
  - !variable "path with spaces/key"
  - !variable tls/cert
  - !host { id: runner, annotations: { authn-jwt/ci/sub: pipeline } }   # Conjur: CONJ00099E without one
  - !permit { role: !host runner, privileges: [ read, execute ], resource: !variable db/password }
  - !permit { role: !host runner, privileges: [ read, execute ], resource: !variable "path with spaces/key" }
  - !permit { role: !host runner, privileges: [ read, execute ], resource: !variable tls/cert }
- !policy
  id: conjur/authn-jwt/ci
  body:
  - !webservice
  - !variable public-keys
  - !variable issuer
  - !variable token-app-property
  - !variable identity-path
  - !group apps
  - !permit { role: !group apps, privilege: [ read, authenticate ], resource: !webservice }
- !grant { role: !group conjur/authn-jwt/ci/apps, member: !host app/runner }
`;

const SECRETS_YML = `DB_PASSWORD: !var app/db/password
SPACED: !var app/path with spaces/key
CERT_FILE: !var:file app/tls/cert
LITERAL: plain value
`;

clientSuite("summon + summon-conjur", `${SUMMON} + ${PROVIDER}`, summon.missing ? summon : provider, () => {
  let server: TestServer;
  let tlsServer: TestServer;
  let cert: TestCertificate;
  let issuer: Issuer;
  let dir: string;
  let runnerKey: string;

  const env = (lines: string): Record<string, string> =>
    Object.fromEntries(
      lines
        .split("\n")
        .filter((l) => l.includes("="))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
  const summonEnv = (conjurEnv: Record<string, string>, yml = SECRETS_YML) => {
    const file = join(dir, `secrets-${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(file, yml);
    return run(summon.path, ["--provider", provider.path, "-f", file, "env"], {
      env: { HOME: dir, ...conjurEnv },
      cwd: dir,
    });
  };

  async function seed(target: TestServer): Promise<string> {
    const admin = await adminOf(target, target === tlsServer ? cert.cert : undefined);
    const loaded = await admin.loadPolicy("root", POLICY);
    await admin.setSecret("app/db/password", "s3cr3t with spaces & $igns");
    await admin.setSecret("app/path with spaces/key", "spaced");
    await admin.setSecret("app/tls/cert", "-----BEGIN CERT-----\nabc\n-----END CERT-----\n");
    await admin.setSecret("conjur/authn-jwt/ci/public-keys", JSON.stringify({ type: "jwks", value: issuer.jwks }));
    await admin.setSecret("conjur/authn-jwt/ci/issuer", "https://ci.example");
    await admin.setSecret("conjur/authn-jwt/ci/token-app-property", "workload");
    await admin.setSecret("conjur/authn-jwt/ci/identity-path", "app");
    return loaded.created_roles[`${ACCOUNT}:host:app/runner`]!.api_key;
  }

  before(async function () {
    this.timeout(60_000);
    dir = tempDir("summon");
    cert = selfSignedCertificate();
    issuer = await jwtIssuer();
    const authenticators = { STRONGROOM_AUTHENTICATORS: "authn,authn-jwt/ci" };
    server = await startTestServer({ account: ACCOUNT, env: authenticators });
    tlsServer = await startTestServer({
      account: ACCOUNT,
      env: authenticators,
      flags: { "tls-cert": cert.certFile, "tls-key": cert.keyFile },
    });
    runnerKey = await seed(server);
    await seed(tlsServer);
  });
  after(async () => {
    await server?.close();
    await tlsServer?.close();
  });

  it("http, host API key: each !var becomes the variable's value, !var:file a file path holding it, literals stay", async () => {
    const r = await summonEnv({
      CONJUR_APPLIANCE_URL: server.url,
      CONJUR_ACCOUNT: ACCOUNT,
      CONJUR_AUTHN_LOGIN: "host/app/runner",
      CONJUR_AUTHN_API_KEY: runnerKey,
    });
    expect(r.code, r.out).to.equal(0);
    const vars = env(r.stdout);
    expect(vars).to.include({ DB_PASSWORD: "s3cr3t with spaces & $igns", SPACED: "spaced", LITERAL: "plain value" });
    expect(vars.CERT_FILE).to.match(/^\/.+/);
  });

  it("https with CONJUR_SSL_CERTIFICATE (our CA as PEM text) and with CONJUR_CERT_FILE", async () => {
    const key = await (await adminOf(tlsServer, cert.cert)).rotateApiKey("host:app/runner");
    const base = {
      CONJUR_APPLIANCE_URL: tlsServer.url,
      CONJUR_ACCOUNT: ACCOUNT,
      CONJUR_AUTHN_LOGIN: "host/app/runner",
      CONJUR_AUTHN_API_KEY: key,
    };
    const variants: Record<string, string>[] = [
      { CONJUR_SSL_CERTIFICATE: cert.cert.toString() },
      { CONJUR_CERT_FILE: cert.certFile },
    ];
    for (const tls of variants) {
      const r = await summonEnv({ ...base, ...tls }, "DB_PASSWORD: !var app/db/password\n");
      expect(r.code, r.out).to.equal(0);
      expect(env(r.stdout).DB_PASSWORD).to.equal("s3cr3t with spaces & $igns");
    }
  });

  it("JWT: CONJUR_AUTHN_JWT_SERVICE_ID + JWT_TOKEN_PATH log the host in through authn-jwt", async () => {
    const token = join(dir, "jwt");
    writeFileSync(token, await issuer.mint({ iss: "https://ci.example", sub: "pipeline", workload: "runner" }));
    const r = await summonEnv({
      CONJUR_APPLIANCE_URL: server.url,
      CONJUR_ACCOUNT: ACCOUNT,
      CONJUR_AUTHN_JWT_SERVICE_ID: "ci",
      JWT_TOKEN_PATH: token,
    });
    expect(r.code, r.out).to.equal(0);
    expect(env(r.stdout)).to.include({ DB_PASSWORD: "s3cr3t with spaces & $igns", SPACED: "spaced" });
  });

  it("a variable the host may not read, or that does not exist, fails summon with the provider's error", async () => {
    const r = await summonEnv(
      {
        CONJUR_APPLIANCE_URL: server.url,
        CONJUR_ACCOUNT: ACCOUNT,
        CONJUR_AUTHN_LOGIN: "host/app/runner",
        CONJUR_AUTHN_API_KEY: runnerKey,
      },
      "NOPE: !var app/nothing\n",
    );
    expect(r.code).to.not.equal(0);
    expect(r.out).to.match(/404|not found/i);
  });

  it("a wrong API key fails with 401", async () => {
    const r = await summonEnv(
      {
        CONJUR_APPLIANCE_URL: server.url,
        CONJUR_ACCOUNT: ACCOUNT,
        CONJUR_AUTHN_LOGIN: "host/app/runner",
        CONJUR_AUTHN_API_KEY: "wrong",
      },
      "DB: !var app/db/password\n",
    );
    expect(r.code).to.not.equal(0);
    expect(r.out).to.match(/401|Unauthorized/);
  });
});
