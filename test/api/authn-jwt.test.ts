import { expect } from "chai";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";
import { Client } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { selfSignedCertificate } from "../support/tls.js";
import { authnJwtPolicy } from "../support/authn-jwt-policy.js";

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string, alg = "RS256"): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}
const now = (): number => Math.floor(Date.now() / 1000);
const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A JWT as an issuer would mint it: RS256, kid, iat and a 5-minute exp unless overridden. */
function mint(key: SigningKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ iat: now(), exp: now() + 300, ...claims })
    .setProtectedHeader({ alg: "RS256", kid: key.kid, ...header })
    .sign(key.privateKey);
}

const JWKS_ISSUER = "https://issuer.example";
const K8S_ISSUER = "https://kubernetes.default.svc.cluster.local";

const POLICY = `
- !user operator
- !user nobody
- !permit { role: !user operator, privilege: read, resource: !webservice conjur/authn-jwt/jwks/status }
- !host { id: jwt-apps/svc-a, annotations: { authn-jwt/jwks/project: blue, authn-jwt/disabled/project: blue, authn-jwt/nows/project: blue } }
- !host { id: jwt-apps/no-priv, annotations: { authn-jwt/jwks/project: blue } }
- !host { id: jwt-apps/red, annotations: { authn-jwt/jwks/project: red } }
- !host { id: jwt-apps/general-only, annotations: { authn-jwt/project: blue } }
- !host { id: jwt-apps/svc-b, annotations: { authn-jwt/keys/project: blue } }
- !host { id: jwt-apps/svc-c, annotations: { authn-jwt/keys/workload: svc-c } }
- !host { id: "k8s/system:serviceaccount:prod:app", annotations: { authn-jwt/k8s/kubernetes.io/namespace: prod } }
- !policy
  id: conjur/authn-jwt/jwks
  body:
  - !webservice
  - !webservice status
  - !variable jwks-uri
  - !variable ca-cert
  - !variable issuer
  - !variable audience
  - !group apps
  - !permit { role: !group apps, privilege: [ read, authenticate ], resource: !webservice }
- !policy
  id: conjur/authn-jwt/keys
  body:
  - !webservice
  - !variable public-keys
  - !variable issuer
  - !variable token-app-property
  - !variable identity-path
  - !variable enforced-claims
  - !group apps
  - !permit { role: !group apps, privilege: [ read, authenticate ], resource: !webservice }
${authnJwtPolicy("k8s")}
- !policy
  id: conjur/authn-jwt/disabled
  body:
  - !webservice
  - !webservice status
  - !variable public-keys
  - !variable issuer
  - !permit { role: !host /jwt-apps/svc-a, privilege: [ read, authenticate ], resource: !webservice }
- !policy
  id: conjur/authn-jwt/nows
  body:
  - !variable public-keys
  - !variable issuer
- !policy
  id: conjur/authn-jwt/noca
  body:
  - !webservice
  - !webservice status
  - !variable jwks-uri
- !grant { role: !group conjur/authn-jwt/jwks/apps, members: [ !host jwt-apps/svc-a, !host jwt-apps/red, !host jwt-apps/general-only ] }
- !grant { role: !group conjur/authn-jwt/keys/apps, members: [ !host jwt-apps/svc-b, !host jwt-apps/svc-c ] }
- !grant { role: !group conjur/authn-jwt/k8s/apps, member: !host "k8s/system:serviceaccount:prod:app" }
`;

describe("authn-jwt", () => {
  let server: TestServer;
  let admin: Client;
  let jwksServer: https.Server;
  let jwksUri: string;
  let jwksFetches = 0;
  const jwks: { keys: JWK[] } = { keys: [] };
  const logLines: string[] = [];
  const sentJwts: string[] = [];
  let k1: SigningKey, k2: SigningKey, stranger: SigningKey, k8sKey: SigningKey, rs384: SigningKey;

  const authenticate = (
    service: string,
    jwt: string,
    opts: { host?: string; headers?: Record<string, string>; body?: string } = {},
  ) => {
    sentJwts.push(jwt);
    const hostPart = opts.host ? `/${encodeURIComponent(opts.host)}` : "";
    return admin.request("POST", `/authn-jwt/${service}/${server.account}${hostPart}/authenticate`, {
      body: opts.body ?? `jwt=${jwt}`,
      headers: { "Content-Type": "application/x-www-form-urlencoded", ...opts.headers },
      auth: false,
    });
  };
  const subOf = (tokenJson: string): string =>
    JSON.parse(Buffer.from(JSON.parse(tokenJson).payload, "base64url").toString()).sub;
  const blueToken = (key: SigningKey = k1, claims: JWTPayload = {}, header: Record<string, unknown> = {}) =>
    mint(key, { iss: JWKS_ISSUER, aud: ["strongroom", "other"], project: "blue", ...claims }, header);
  /** 401 with an empty body, and the audit record of that very request names the expected reason. */
  const expectEmpty401 = async (
    res: Promise<{ status: number; text: string; headers: Headers }>,
    why: string,
    reason: string,
  ): Promise<void> => {
    const r = await res;
    expect(r.status, why).to.equal(401);
    expect(r.text, why).to.equal("");
    const requestId = r.headers.get("x-request-id");
    const audited = logLines.map((l) => JSON.parse(l)).find((l) => l.audit === true && l.requestId === requestId);
    expect(audited?.reason, why).to.be.a("string").and.include(reason);
  };

  before(async () => {
    [k1, k2, stranger, k8sKey, rs384] = await Promise.all([
      signingKey("k1"),
      signingKey("k2"),
      signingKey("k1"),
      signingKey("cluster-key"),
      signingKey("k384", "RS384"),
    ]);
    jwks.keys = [k1.jwk, { ...rs384.jwk, alg: "RS256" }];
    const tls = selfSignedCertificate();
    jwksServer = https.createServer(
      { cert: tls.cert, key: (await import("node:fs")).readFileSync(tls.keyFile) },
      (_req, res) => {
        jwksFetches++;
        res.setHeader("Content-Type", "application/json");
        res.end(JSON.stringify(jwks));
      },
    );
    await new Promise<void>((ok) => jwksServer.listen(0, "127.0.0.1", ok));
    jwksUri = `https://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/openid/v1/jwks`;

    server = await startTestServer({
      account: "acme",
      flags: { authenticators: "authn,authn-jwt/jwks,authn-jwt/keys,authn-jwt/k8s,authn-jwt/nows,authn-jwt/noca" },
      logLines,
    });
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    const loaded = await admin.loadPolicy("POST", "root", POLICY);
    expect(loaded.status, loaded.text).to.equal(201);
    const publicKeys = (...keys: SigningKey[]): string =>
      JSON.stringify({ type: "jwks", value: { keys: keys.map((k) => k.jwk) } });
    const values: Record<string, string> = {
      "conjur/authn-jwt/jwks/jwks-uri": jwksUri,
      "conjur/authn-jwt/jwks/ca-cert": tls.cert.toString(),
      "conjur/authn-jwt/jwks/issuer": JWKS_ISSUER,
      "conjur/authn-jwt/jwks/audience": "strongroom",
      "conjur/authn-jwt/keys/public-keys": publicKeys(k1),
      "conjur/authn-jwt/keys/issuer": "https://keys.example",
      "conjur/authn-jwt/keys/token-app-property": "workload",
      "conjur/authn-jwt/keys/identity-path": "jwt-apps/",
      "conjur/authn-jwt/keys/enforced-claims": "project",
      "conjur/authn-jwt/k8s/public-keys": publicKeys(k8sKey),
      "conjur/authn-jwt/k8s/issuer": K8S_ISSUER,
      "conjur/authn-jwt/k8s/audience": "strongroom",
      "conjur/authn-jwt/k8s/token-app-property": "sub",
      "conjur/authn-jwt/k8s/identity-path": "k8s",
      "conjur/authn-jwt/disabled/public-keys": publicKeys(k1),
      "conjur/authn-jwt/disabled/issuer": JWKS_ISSUER,
      "conjur/authn-jwt/nows/public-keys": publicKeys(k1),
      "conjur/authn-jwt/nows/issuer": JWKS_ISSUER,
      "conjur/authn-jwt/noca/jwks-uri": jwksUri,
    };
    for (const [id, value] of Object.entries(values))
      expect((await admin.setSecret(id, value)).status, id).to.equal(201);
  });

  after(async () => {
    await server.close();
    await new Promise((ok) => jwksServer.close(ok));
  });

  describe("with jwks-uri over HTTPS (ca-cert) and the identity in the URL", () => {
    it("answers the access token JSON for the host, which then works as a token", async () => {
      const res = await authenticate("jwks", await blueToken(), { host: "host/jwt-apps/svc-a" });
      expect(res.status, res.text).to.equal(200);
      expect(res.headers.get("content-type")).to.match(/^application\/json/);
      expect(subOf(res.text)).to.equal("host/jwt-apps/svc-a");
      const whoami = await admin.request("GET", "/whoami", {
        headers: { Authorization: `Token token="${Buffer.from(res.text).toString("base64")}"` },
      });
      expect(whoami.json().username).to.equal("host/jwt-apps/svc-a");
    });

    it("answers base64 with Content-Encoding: base64 when asked, as /authn does", async () => {
      const res = await authenticate("jwks", await blueToken(), {
        host: "host/jwt-apps/svc-a",
        headers: { "Accept-Encoding": "gzip, base64" },
      });
      expect(res.status).to.equal(200);
      expect(res.headers.get("content-encoding")).to.equal("base64");
      expect(subOf(Buffer.from(res.text, "base64").toString())).to.equal("host/jwt-apps/svc-a");
    });

    it("reads the form whatever the Content-Type, with a trailing newline (the Kubernetes client's text/plain body)", async () => {
      const jwt = await blueToken();
      const res = await authenticate("jwks", jwt, {
        host: "host/jwt-apps/svc-a",
        headers: { "Content-Type": "text/plain", "User-Agent": "k8s" },
        body: `jwt=${jwt}\n`,
      });
      expect(res.status, res.text).to.equal(200);
    });

    it("verifies an RS384 token against a key published as RS256, as Conjur does (keys are chosen by kid)", async () => {
      const jwt = await blueToken(rs384, {}, { alg: "RS384" });
      expect((await authenticate("jwks", jwt, { host: "host/jwt-apps/svc-a" })).status).to.equal(200);
    });

    it("answers 400 with an empty body when the jwt field is missing or empty, 401 when it is not a JWT", async () => {
      for (const body of ["", "jwt=", "token=abc"]) {
        const res = await authenticate("jwks", "", { host: "host/jwt-apps/svc-a", body });
        expect(res.status, body).to.equal(400);
        expect(res.text).to.equal("");
      }
      await expectEmpty401(authenticate("jwks", "abc", { host: "host/jwt-apps/svc-a" }), "not a JWT", "CONJ00077E");
      await expectEmpty401(
        authenticate("jwks", `${"a".repeat(70_000)}.b.c`, { host: "host/jwt-apps/svc-a" }),
        "oversized",
        "CONJ00077E",
      );
    });

    it("refuses a wrong issuer, a wrong audience, a missing exp, a future nbf or iat, a bad signature, no kid: 401, empty", async () => {
      const cases: Array<[string, Promise<string>, string]> = [
        ["wrong issuer", blueToken(k1, { iss: "https://evil.example" }), "InvalidIssuerError"],
        [
          "no issuer",
          blueToken(k1, { iss: undefined }),
          "CONJ00091E Failed to validate token: mandatory claim 'iss' is missing.",
        ],
        ["wrong audience", blueToken(k1, { aud: "someone-else" }), "InvalidAudError"],
        ["no exp", blueToken(k1, { exp: undefined }), "mandatory claim 'exp' is missing"],
        ["future nbf", blueToken(k1, { nbf: now() + 120 }), "ImmatureSignature"],
        ["future iat", blueToken(k1, { iat: now() + 120 }), "InvalidIatError"],
        ["signed by another key with the same kid", blueToken(stranger), "Signature verification failed"],
        ["no kid", blueToken(k1, {}, { kid: undefined }), "No key id (kid)"],
      ];
      for (const [why, jwt, reason] of cases)
        await expectEmpty401(authenticate("jwks", await jwt, { host: "host/jwt-apps/svc-a" }), why, reason);
    });

    it("answers an expired token with 401 and Conjur's CONJ00016E body", async () => {
      const res = await authenticate("jwks", await blueToken(k1, { iat: now() - 600, exp: now() - 60 }), {
        host: "host/jwt-apps/svc-a",
      });
      expect(res.status).to.equal(401);
      expect(res.json()).to.deep.equal({ error: { code: "unauthorized", message: "CONJ00016E Token expired" } });
    });

    it("refuses alg none and HS256 signed with the public key as the secret", async () => {
      const unsigned = `${b64url({ alg: "none", kid: "k1" })}.${b64url({ iss: JWKS_ISSUER, aud: "strongroom", project: "blue", exp: now() + 300 })}.`;
      await expectEmpty401(authenticate("jwks", unsigned, { host: "host/jwt-apps/svc-a" }), "alg none", "CONJ00077E");
      const publicPem = new TextEncoder().encode(await exportSPKI(k1.publicKey));
      const hmac = await new SignJWT({ iss: JWKS_ISSUER, aud: "strongroom", project: "blue", exp: now() + 300 })
        .setProtectedHeader({ alg: "HS256", kid: "k1" })
        .sign(publicPem);
      await expectEmpty401(
        authenticate("jwks", hmac, { host: "host/jwt-apps/svc-a" }),
        "HS256 with the public key",
        "IncorrectAlgorithm",
      );
    });

    it("refuses an unknown kid, then accepts it once the issuer publishes it (JWKS refetched on a miss)", async () => {
      const jwt = await blueToken(k2);
      const before = jwksFetches;
      await expectEmpty401(
        authenticate("jwks", jwt, { host: "host/jwt-apps/svc-a" }),
        "unknown kid",
        "Could not find public key",
      );
      expect(jwksFetches, "a miss refetches the JWKS").to.equal(before + 1);
      jwks.keys = [...jwks.keys, k2.jwk];
      expect((await authenticate("jwks", jwt, { host: "host/jwt-apps/svc-a" })).status).to.equal(200);
      expect(jwksFetches).to.equal(before + 2);
      expect((await authenticate("jwks", await blueToken(k2), { host: "host/jwt-apps/svc-a" })).status).to.equal(200);
      expect(jwksFetches, "a known kid is served from the cache").to.equal(before + 2);
    });

    it("refuses a host whose annotation does not match, that has none of this service, or lacks authenticate (403)", async () => {
      const jwt = await blueToken();
      await expectEmpty401(
        authenticate("jwks", jwt, { host: "host/jwt-apps/red" }),
        "annotation mismatch",
        "CONJ00049E",
      );
      await expectEmpty401(
        authenticate("jwks", jwt, { host: "host/jwt-apps/general-only" }),
        "only a general annotation",
        "CONJ00099E",
      );
      await expectEmpty401(authenticate("jwks", jwt, { host: "host/jwt-apps/missing" }), "no such host", "CONJ00007E");
      const forbidden = await authenticate("jwks", jwt, { host: "host/jwt-apps/no-priv" });
      expect(forbidden.status).to.equal(403);
      expect(forbidden.text).to.equal("");
    });

    it("refuses the token identity mode when the service has no token-app-property (no host in the URL)", async () => {
      await expectEmpty401(authenticate("jwks", await blueToken()), "identity misconfigured", "CONJ00098E");
    });
  });

  describe("with public-keys and the identity from token-app-property under identity-path", () => {
    const keysToken = (claims: JWTPayload) => mint(k1, { iss: "https://keys.example", ...claims });

    it("logs in host/<identity-path>/<claim>", async () => {
      const res = await authenticate("keys", await keysToken({ workload: "svc-b", project: "blue" }));
      expect(res.status, res.text).to.equal(200);
      expect(subOf(res.text)).to.equal("host/jwt-apps/svc-b");
    });

    it("refuses a host without the enforced claim's annotation, a missing or non-string identity claim, a host in the URL", async () => {
      await expectEmpty401(
        authenticate("keys", await keysToken({ workload: "svc-c", project: "blue" })),
        "enforced claim not annotated",
        "CONJ00057E",
      );
      await expectEmpty401(
        authenticate("keys", await keysToken({ project: "blue" })),
        "no identity claim",
        "CONJ00081E",
      );
      await expectEmpty401(
        authenticate("keys", await keysToken({ workload: ["svc-b"], project: "blue" })),
        "array identity",
        "CONJ00118E",
      );
      await expectEmpty401(
        authenticate("keys", await keysToken({ workload: "svc-b", project: "blue" }), { host: "host/jwt-apps/svc-b" }),
        "both identity sources",
        "CONJ00098E",
      );
      await expectEmpty401(
        authenticate("keys", await mint(k2, { iss: "https://keys.example", workload: "svc-b", project: "blue" })),
        "key not in public-keys",
        "Could not find public key",
      );
    });

    it("issues a token only to a client inside the host's restricted_to, as /authn does (Conjur's last step)", async () => {
      const res = await admin.loadPolicy(
        "PATCH",
        "root",
        "- !host { id: jwt-apps/svc-b, restricted_to: [ 10.9.9.0/24 ], annotations: { authn-jwt/keys/project: blue } }\n",
      );
      expect(res.status, res.text).to.equal(201);
      const inside = await authenticate("keys", await keysToken({ workload: "svc-b", project: "blue" }), {
        headers: { "X-Forwarded-For": "10.9.9.5" },
      });
      expect(inside.status, inside.text).to.equal(200);
      await expectEmpty401(
        authenticate("keys", await keysToken({ workload: "svc-b", project: "blue" }), {
          headers: { "X-Forwarded-For": "192.0.2.1" },
        }),
        "outside restricted_to",
        "CONJ00003E",
      );
      await admin.loadPolicy(
        "PATCH",
        "root",
        "- !host { id: jwt-apps/svc-b, restricted_to: [], annotations: { authn-jwt/keys/project: blue } }\n",
      );
    });
  });

  describe("with a Kubernetes service-account token", () => {
    it("logs in host/k8s/system:serviceaccount:<ns>:<sa>, checking the namespace claim", async () => {
      const saClaims = (namespace: string): JWTPayload => ({
        iss: K8S_ISSUER,
        aud: ["strongroom"],
        sub: `system:serviceaccount:${namespace}:app`,
        nbf: now() - 5,
        "kubernetes.io": {
          namespace,
          serviceaccount: { name: "app", uid: "3f1c" },
          pod: { name: "app-7d9", uid: "9a2b" },
        },
      });
      const res = await authenticate("k8s", await mint(k8sKey, saClaims("prod")));
      expect(res.status, res.text).to.equal(200);
      expect(subOf(res.text)).to.equal("host/k8s/system:serviceaccount:prod:app");
      const otherNamespace = await mint(k8sKey, { ...saClaims("dev"), sub: "system:serviceaccount:prod:app" });
      await expectEmpty401(authenticate("k8s", otherNamespace), "namespace claim mismatch", "CONJ00049E");
      await expectEmpty401(
        authenticate("k8s", await mint(k8sKey, { ...saClaims("prod"), aud: ["conjur"] })),
        "audience for another server",
        "InvalidAudError",
      );
    });
  });

  describe("enabling", () => {
    it("refuses a service missing from --authenticators, and an enabled service without its webservice", async () => {
      const jwt = await blueToken();
      await expectEmpty401(authenticate("disabled", jwt, { host: "host/jwt-apps/svc-a" }), "not enabled", "CONJ00004E");
      await expectEmpty401(authenticate("nows", jwt, { host: "host/jwt-apps/svc-a" }), "no webservice", "CONJ00005E");
      await expectEmpty401(
        admin.request("POST", "/authn-jwt/jwks/nope/host%2Fjwt-apps%2Fsvc-a/authenticate", {
          body: `jwt=${jwt}`,
          auth: false,
        }),
        "unknown account",
        "CONJ00008E",
      );
    });

    it("lists installed, configured and enabled authenticators at GET /authenticators without a token", async () => {
      const res = await admin.request("GET", "/authenticators", { auth: false });
      expect(res.status).to.equal(200);
      expect(res.json()).to.deep.equal({
        installed: ["authn", "authn-jwt", "authn-kubernetes"],
        configured: [
          "authn",
          "authn-jwt/disabled",
          "authn-jwt/jwks",
          "authn-jwt/k8s",
          "authn-jwt/keys",
          "authn-jwt/noca",
        ],
        enabled: ["authn", "authn-jwt/jwks", "authn-jwt/k8s", "authn-jwt/keys", "authn-jwt/noca", "authn-jwt/nows"],
      });
    });

    it("enables and disables a service with PATCH /authn-jwt/{service_id}/{account} (form or JSON), needing update on its webservice", async () => {
      const patch = (client: Client, service: string, body: string, contentType?: string) =>
        client.request("PATCH", `/authn-jwt/${service}/${server.account}`, {
          body,
          headers: contentType ? { "Content-Type": contentType } : {},
        });
      const operator = await new Client(server.url, server.account).login(
        "operator",
        (await admin.request("PUT", `/authn/${server.account}/api_key?role=user:operator`)).text,
      );
      expect((await patch(operator, "disabled", "enabled=true")).status, "no update privilege").to.equal(403);
      expect((await patch(admin, "nothing-here", "enabled=true")).status, "no webservice").to.equal(401);
      expect((await patch(admin, "disabled", "{not json", "application/json")).status, "unparsable JSON").to.equal(400);
      const enabled = await patch(admin, "disabled", "enabled=true", "application/x-www-form-urlencoded");
      expect([enabled.status, enabled.text]).to.deep.equal([204, ""]);
      expect((await admin.request("GET", "/authenticators", { auth: false })).json().enabled).to.include(
        "authn-jwt/disabled",
      );
      expect((await authenticate("disabled", await blueToken(), { host: "host/jwt-apps/svc-a" })).status).to.equal(200);
      expect(
        (await patch(admin, "disabled", JSON.stringify({ enabled: " FALSE " }), "application/json")).status,
      ).to.equal(204);
      await expectEmpty401(
        authenticate("disabled", await blueToken(), { host: "host/jwt-apps/svc-a" }),
        "disabled again",
        "CONJ00004E",
      );
      expect((await patch(admin, "jwks", "enabled=false")).status).to.equal(204); // the setting still enables it (a union)
      expect((await admin.request("GET", "/authenticators", { auth: false })).json().enabled).to.include(
        "authn-jwt/jwks",
      );
    });
  });

  describe("GET /authn-jwt/{service_id}/{account}/status", () => {
    const status = async (service: string, login: string, key?: string) => {
      const client = new Client(server.url, server.account);
      if (login === "admin") await client.login("admin", server.adminKey);
      else {
        const rotated = await admin.request("PUT", `/authn/${server.account}/api_key?role=user:${login}`);
        await client.login(login, key ?? rotated.text);
      }
      return client.request("GET", `/authn-jwt/${service}/${server.account}/status`);
    };

    it("answers {status: ok} to a role with read on the status webservice", async () => {
      const res = await status("jwks", "operator");
      expect(res.status, res.text).to.equal(200);
      expect(res.json()).to.deep.equal({ status: "ok" });
    });

    it("answers 403 naming CONJ00006E without read, 404 without a status webservice, 500 when disabled or misconfigured", async () => {
      const denied = await status("jwks", "nobody");
      expect(denied.status).to.equal(403);
      expect(denied.json().status).to.equal("error");
      expect(denied.json().error).to.match(
        /^#<Errors::Authentication::Security::RoleNotAuthorizedOnResource: CONJ00006E 'nobody' does not have 'read' privilege on acme:webservice:conjur\/authn-jwt\/jwks\/status>$/,
      );
      const missing = await status("keys", "admin");
      expect(missing.status).to.equal(404);
      expect(missing.json().error).to.include("CONJ00005E");
      const disabled = await status("disabled", "admin");
      expect(disabled.status).to.equal(500);
      expect(disabled.json().error).to.include("CONJ00004E 'authn-jwt/disabled' is not enabled");
      const noCa = await status("noca", "admin");
      expect(noCa.status, "the self-signed JWKS server is refused without ca-cert").to.equal(500);
      expect(noCa.json().error).to.include("CONJ00087E");
    });

    it("answers 401 without an access token", async () => {
      expect((await admin.request("GET", `/authn-jwt/jwks/${server.account}/status`, { auth: false })).status).to.equal(
        401,
      );
    });
  });

  describe("audit", () => {
    it("records each attempt and never logs a JWT", () => {
      const audits = logLines
        .map((l) => JSON.parse(l))
        .filter((l) => l.audit === true && l.action === "authenticate" && String(l.resource).includes("authn-jwt"));
      expect(audits.some((a) => a.outcome === "success" && a.role === "acme:host:jwt-apps/svc-a")).to.equal(true);
      expect(audits.some((a) => a.outcome === "failure" && /CONJ00049E/.test(a.reason))).to.equal(true);
      const signatures = sentJwts.map((jwt) => jwt.split(".")[2]).filter((s) => s && s.length > 20);
      expect(signatures.length).to.be.greaterThan(10);
      for (const line of logLines)
        for (const signature of signatures) expect(line.includes(signature!), "a JWT in the log").to.equal(false);
    });
  });
});
