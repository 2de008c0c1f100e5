import { expect } from "chai";
import { Client } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import {
  CLUSTER_ISSUER,
  issuerKey,
  READER_TOKEN,
  serviceAccountClaims,
  signToken,
  startFakeIssuer,
  type FakeIssuer,
  type IssuerKey,
} from "../support/service-account-issuer.js";

const now = (): number => Math.floor(Date.now() / 1000);
const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Only what Secret mode needs: the hosts, the variables, read/execute. No authenticator policy at all. */
const POLICY = `
- !host kubernetes/prod/app
- !host { id: billing/api, annotations: { kubernetes/namespace: prod, kubernetes/service-account: api } }
- !host { id: billing/unbound, annotations: { kubernetes/namespace: prod, kubernetes/service-account: someone-else } }
- !host { id: kubernetes/prod/restricted, restricted_to: [ 10.1.0.0/16 ] }
- !variable db/password
- !permit { role: !host kubernetes/prod/app, privilege: [ read, execute ], resource: !variable db/password }
- !permit { role: !host billing/api, privilege: [ read, execute ], resource: !variable db/password }
`;

describe("authn-kubernetes: service-account tokens, no authenticator policy", function () {
  this.timeout(60_000);
  let issuer: FakeIssuer;
  let server: TestServer;
  let admin: Client;
  let rsa: IssuerKey, ec: IssuerKey, impostor: IssuerKey, rotated: IssuerKey;
  const logLines: string[] = [];
  const sentTokens: string[] = [];

  const authenticate = (
    target: TestServer,
    jwt: string,
    opts: { host?: string; headers?: Record<string, string>; body?: string } = {},
  ) => {
    sentTokens.push(jwt);
    const hostPart = opts.host ? `/${encodeURIComponent(opts.host)}` : "";
    return new Client(target.url, target.account).request(
      "POST",
      `/authn-kubernetes/${target.account}${hostPart}/authenticate`,
      {
        body: opts.body ?? `jwt=${jwt}`,
        headers: { "Content-Type": "application/x-www-form-urlencoded", ...opts.headers },
        auth: false,
      },
    );
  };
  const auditOf = (requestId: string | null) =>
    logLines.map((l) => JSON.parse(l)).find((l) => l.audit === true && l.requestId === requestId);
  /** 401 with an empty body, and the audit record of that very request gives the reason. */
  const expect401 = async (res: ReturnType<typeof authenticate>, why: string, reason: string): Promise<void> => {
    const r = await res;
    expect(r.status, why).to.equal(401);
    expect(r.text, why).to.equal("");
    expect(auditOf(r.headers.get("x-request-id"))?.reason, why)
      .to.be.a("string")
      .and.include(reason);
  };
  const subOf = (tokenJson: string): string =>
    JSON.parse(Buffer.from(JSON.parse(tokenJson).payload, "base64url").toString()).sub;

  before(async () => {
    [rsa, ec, impostor, rotated] = await Promise.all([
      issuerKey("rsa-1"),
      issuerKey("ec-1", "ES256"),
      issuerKey("rsa-1"),
      issuerKey("rsa-2"),
    ]);
    issuer = await startFakeIssuer([rsa, ec]);
    server = await startTestServer({ account: "acme", flags: issuer.flags, logLines });
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    const loaded = await admin.loadPolicy("POST", "root", POLICY);
    expect(loaded.status, loaded.text).to.equal(201);
    expect((await admin.setSecret("db/password", "s3cr3t")).status).to.equal(201);
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  it("logs a pod in as kubernetes/<namespace>/<serviceaccount>, whose token reads what Secret mode reads", async () => {
    const res = await authenticate(server, await signToken(rsa, serviceAccountClaims("prod", "app")));
    expect(res.status, res.text).to.equal(200);
    expect(subOf(res.text)).to.equal("host/kubernetes/prod/app");
    const asPod = new Client(server.url, server.account);
    asPod.token = Buffer.from(res.text).toString("base64");
    const secret = await asPod.getSecret("db/password");
    expect(secret.status).to.equal(200);
    expect(secret.text).to.equal("s3cr3t");
    expect(issuer.fetches.length, "the JWKS was read").to.be.greaterThan(0);
    expect(
      issuer.fetches.every((auth) => auth === `Bearer ${READER_TOKEN}`),
      "with the server's own token",
    ).to.equal(true);
    expect(auditOf(res.headers.get("x-request-id"))).to.include({
      outcome: "success",
      role: "acme:host:kubernetes/prod/app",
    });
  });

  it("accepts ES256 tokens, the default host named in the URL, and answers base64 when asked", async () => {
    const es = await authenticate(server, await signToken(ec, serviceAccountClaims("prod", "app")), {
      host: "host/kubernetes/prod/app",
      headers: { "Accept-Encoding": "base64" },
    });
    expect(es.status).to.equal(200);
    expect(es.headers.get("content-encoding")).to.equal("base64");
    expect(subOf(Buffer.from(es.text, "base64").toString())).to.equal("host/kubernetes/prod/app");
    const withinLeeway = await authenticate(
      server,
      await signToken(rsa, serviceAccountClaims("prod", "app", { exp: now() - 10 })),
    );
    expect(withinLeeway.status, "10 s past exp is within the 30 s leeway").to.equal(200);
  });

  it("a host named in the URL (strongroom.io/host) only when its annotations bind it to the token's service account", async () => {
    const api = await authenticate(server, await signToken(rsa, serviceAccountClaims("prod", "api")), {
      host: "host/billing/api",
    });
    expect(api.status).to.equal(200);
    expect(subOf(api.text)).to.equal("host/billing/api");
    await expect401(
      authenticate(server, await signToken(rsa, serviceAccountClaims("prod", "app")), { host: "host/billing/api" }),
      "another service account's host",
      "is not bound to service account prod/app",
    );
    await expect401(
      authenticate(server, await signToken(rsa, serviceAccountClaims("dev", "api")), { host: "host/billing/api" }),
      "same name, other namespace",
      "is not bound to service account dev/api",
    );
    await expect401(
      authenticate(server, await signToken(rsa, serviceAccountClaims("prod", "api")), { host: "host/billing/unbound" }),
      "annotations name someone else",
      "is not bound",
    );
    await expect401(
      authenticate(server, await signToken(rsa, serviceAccountClaims("prod", "api")), { host: "admin" }),
      "a user",
      "only a host",
    );
    await expect401(
      authenticate(server, await signToken(rsa, serviceAccountClaims("prod", "ghost"))),
      "no such host",
      "host 'kubernetes/prod/ghost' does not exist",
    );
  });

  it("refuses tokens with the wrong audience or issuer, expired, badly signed, unsigned, or with an unknown kid", async () => {
    const app = (extra = {}) => serviceAccountClaims("prod", "app", extra);
    await expect401(
      authenticate(server, await signToken(rsa, app({ aud: ["https://kubernetes.default.svc"] }))),
      "audience of the API server",
      "audience mismatch (expected strongroom)",
    );
    await expect401(
      authenticate(server, await signToken(rsa, app({ iss: "https://other-cluster.example" }))),
      "another cluster",
      `issuer mismatch (expected ${CLUSTER_ISSUER})`,
    );
    await expect401(
      authenticate(server, await signToken(rsa, app({ exp: now() - 120 }))),
      "expired past the leeway",
      "token expired",
    );
    await expect401(authenticate(server, await signToken(rsa, app({ exp: undefined }))), "no exp", "claim exp invalid");
    await expect401(
      authenticate(server, await signToken(impostor, app())),
      "same kid, other key",
      "signature verification failed",
    );
    await expect401(
      authenticate(server, `${b64url({ alg: "none", kid: "rsa-1" })}.${b64url(app())}.`),
      "alg none",
      "algorithm not allowed",
    );
    const hs = await signToken(
      { ...rsa, alg: "HS256", privateKey: new TextEncoder().encode("x".repeat(32)) as never },
      app(),
    );
    await expect401(authenticate(server, hs), "HS256", "algorithm not allowed");
    await expect401(
      authenticate(server, await signToken(rsa, app(), { kid: "nobody-published-this" })),
      "unknown kid",
      "no key of the issuer matches",
    );
    await expect401(authenticate(server, "not-a-jwt"), "garbage", "not a compact JWT");
    await expect401(authenticate(server, "", { body: "" }), "no field", "no jwt form field");
    await expect401(authenticate(server, "x", { body: `jwt=${"a".repeat(20_000)}.b.c` }), "oversized", "too large");
  });

  it("refuses tokens that are not a well-formed service-account token", async () => {
    const sa = serviceAccountClaims("prod", "app");
    await expect401(
      authenticate(server, await signToken(rsa, { ...sa, "kubernetes.io": undefined })),
      "no kubernetes.io claim",
      "no kubernetes.io claim",
    );
    await expect401(
      authenticate(server, await signToken(rsa, { ...sa, sub: "system:serviceaccount:prod:admin" })),
      "sub disagrees",
      "sub does not name",
    );
    await expect401(
      authenticate(
        server,
        await signToken(rsa, { ...sa, "kubernetes.io": { namespace: "Prod/../x", serviceaccount: { name: "app" } } }),
      ),
      "bad namespace",
      "kubernetes.io.namespace",
    );
    await expect401(
      authenticate(
        server,
        await signToken(rsa, {
          ...sa,
          "kubernetes.io": { namespace: "prod", serviceaccount: { name: "app" }, pod: { name: "" } },
        }),
      ),
      "bad pod claim",
      "kubernetes.io.pod",
    );
    await expect401(
      authenticate(server, await signToken(rsa, { ...sa, iat: now() + 600 })),
      "issued in the future",
      "token issued in the future",
    );
  });

  it("refetches the JWKS when the issuer rotates to a new kid", async () => {
    const token = await signToken(rotated, serviceAccountClaims("prod", "app"));
    issuer.published = [rsa.jwk, ec.jwk, rotated.jwk];
    // Unknown kids trigger a refetch at most once per 5 s cooldown.
    const deadline = Date.now() + 8_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await authenticate(server, token)).status;
      if (status !== 200) await new Promise((ok) => setTimeout(ok, 500));
    }
    expect(status).to.equal(200);
  });

  it("enforces restricted_to after the token checks out", async () => {
    await expect401(
      authenticate(server, await signToken(rsa, serviceAccountClaims("prod", "restricted"))),
      "client outside 10.1.0.0/16",
      "CONJ00003E",
    );
  });

  it("is listed by GET /authenticators as installed, configured and enabled", async () => {
    const res = await admin.request("GET", "/authenticators", { auth: false });
    expect(res.json()).to.deep.equal({
      installed: ["authn", "authn-jwt", "authn-kubernetes"],
      configured: ["authn", "authn-kubernetes"],
      enabled: ["authn", "authn-kubernetes"],
    });
  });

  it("never logs a token", () => {
    const log = logLines.join("\n");
    for (const jwt of sentTokens.filter((t) => t.length > 40)) expect(log.includes(jwt)).to.equal(false);
    expect(log.includes(READER_TOKEN)).to.equal(false);
  });

  describe("disabled, or the keys unreachable", () => {
    let disabled: TestServer;
    let keyless: TestServer;
    const disabledLog: string[] = [];
    before(async () => {
      disabled = await startTestServer({
        account: "acme",
        flags: { ...issuer.flags, authenticators: "authn", "authn-max-failures-per-address": "3" },
        logLines: disabledLog,
      });
      keyless = await startTestServer({
        account: "acme",
        flags: { ...issuer.flags, "kubernetes-jwks-uri": "https://127.0.0.1:1/openid/v1/jwks" },
      });
      for (const target of [disabled, keyless]) {
        const client = await new Client(target.url, target.account).login("admin", target.adminKey);
        expect((await client.loadPolicy("POST", "root", POLICY)).status).to.equal(201);
      }
    });
    after(async () => {
      await disabled?.close();
      await keyless?.close();
    });

    it("answers a server without authn-kubernetes enabled as authn-jwt answers a disabled service: empty 401, audited CONJ00004E", async () => {
      const res = await authenticate(disabled, await signToken(rsa, serviceAccountClaims("prod", "app")));
      expect(res.status).to.equal(401);
      expect(res.text).to.equal("");
      const audited = disabledLog
        .map((l) => JSON.parse(l))
        .find((l) => l.audit === true && l.requestId === res.headers.get("x-request-id"));
      expect(audited?.reason).to.include("CONJ00004E 'authn-kubernetes' is not enabled");
    });

    it("throttles failures per client address (429 with Retry-After)", async () => {
      const jwt = await signToken(rsa, serviceAccountClaims("prod", "app"));
      // The test above already failed once from this address; the limit is 3.
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await authenticate(disabled, jwt)).status);
      const throttled = await authenticate(disabled, jwt);
      expect([...statuses, throttled.status]).to.deep.equal([401, 401, 429, 429]);
      expect(Number(throttled.headers.get("retry-after"))).to.be.greaterThan(0);
    });

    it("answers 503 (retry), not a denial, when the issuer's JWKS cannot be read", async () => {
      const res = await authenticate(keyless, await signToken(rsa, serviceAccountClaims("prod", "app")));
      expect(res.status).to.equal(503);
      expect(res.headers.get("retry-after")).to.equal("1");
      expect(res.json().error.message).to.match(/service-account keys cannot be read/);
    });
  });

  describe("with --kubernetes-token-review (the chart's default): the API server has the last word", () => {
    let reviewing: TestServer;
    before(async () => {
      reviewing = await startTestServer({
        account: "acme",
        flags: { ...issuer.flags, "kubernetes-token-review": true },
        kubeConfig: issuer.kubeConfig(),
        logLines,
      });
      const loaded = await new Client(reviewing.url, reviewing.account)
        .login("admin", reviewing.adminKey)
        .then((c) => c.loadPolicy("POST", "root", POLICY));
      expect(loaded.status, loaded.text).to.equal(201);
    });
    after(async () => {
      issuer.reviewFailure = undefined;
      await reviewing?.close();
    });

    it("logs in a token the API server accepts, asking with our audience", async () => {
      const jwt = await signToken(rsa, serviceAccountClaims("prod", "app"));
      const res = await authenticate(reviewing, jwt);
      expect(res.status, res.text).to.equal(200);
      expect(issuer.reviews.at(-1)).to.deep.equal({ token: jwt, audiences: ["strongroom"] });
    });

    it("refuses a token whose ServiceAccount was deleted (valid signature, not expired): empty 401, reason audited", async () => {
      const jwt = await signToken(rsa, serviceAccountClaims("prod", "app"));
      expect((await authenticate(reviewing, jwt)).status, "control: before the deletion").to.equal(200);
      issuer.revoked.add(jwt);
      await expect401(authenticate(reviewing, jwt), "deleted ServiceAccount", "TokenReview");
      expect((await authenticate(server, jwt)).status, "offline verification alone still accepts it").to.equal(200);
    });

    it("never sends a token that fails the offline checks to the API server", async () => {
      const before = issuer.reviews.length;
      await expect401(
        authenticate(reviewing, await signToken(impostor, serviceAccountClaims("prod", "app"))),
        "bad signature",
        "signature",
      );
      await expect401(
        authenticate(reviewing, await signToken(rsa, serviceAccountClaims("prod", "app", { aud: ["vault"] }))),
        "wrong audience",
        "audience",
      );
      expect(issuer.reviews.length).to.equal(before);
    });

    it("answers 503 (retry), not a denial, when the API server cannot review", async () => {
      issuer.reviewFailure = 500;
      const res = await authenticate(reviewing, await signToken(rsa, serviceAccountClaims("prod", "app")));
      issuer.reviewFailure = undefined;
      expect(res.status).to.equal(503);
      expect(res.json().error.message).to.equal(
        "the API server cannot review service-account tokens right now; try again",
      );
    });
  });
});
