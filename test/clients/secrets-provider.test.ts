/**
 * CyberArk's Secrets Provider for Kubernetes, the real binary, as a plain process in push-to-file
 * mode (CONTAINER_MODE init) with authn-jwt over https: a JWT shaped like a projected service-account
 * token, minted here and checked against the JWKS in our authn-jwt/k8s. Its fixed pod paths (/conjur/…,
 * /var/run/secrets/…, the image's /usr/local/bin script) exist only inside a private mount namespace
 * (harness/clients/pod-sandbox.sh, root), so the host's file system is never touched.
 * K8s-Secrets mode runs against a real kube-apiserver (test/cluster/control-plane.ts), with the pod's
 * real service-account token, as in-cluster config inside the same sandbox.
 */
import { expect } from "chai";
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../support/server.js";
import { selfSignedCertificate, type TestCertificate } from "../support/tls.js";
import { binaries, startControlPlane, type ControlPlane } from "../cluster/control-plane.js";
import { adminOf, built, CACHE, clientSuite, type Issuer, jwtIssuer, run, tempDir, VERSIONS } from "./support.js";
import { authnJwtPolicy } from "../support/authn-jwt-policy.js";

const VERSION = VERSIONS["secrets-provider"]!;
const bin = built(`secrets-provider-${VERSION}`, "secrets-provider");
const SANDBOX = join(import.meta.dirname, "..", "..", "harness", "clients", "pod-sandbox.sh");
const ACCOUNT = "conjur";
const ISSUER = "https://kubernetes.default.svc.cluster.local";
const SA = "system:serviceaccount:apps:test-app";

const POLICY = `
${authnJwtPolicy("k8s")}
- !policy
  id: test-app
  body:
  - !variable db/username
  - !variable db/password
  - !variable db/url
  - !variable cert
  - !variable forbidden
  - !host { id: "${SA}", annotations: { authn-jwt/k8s/kubernetes.io/namespace: apps } }
  - !permit { role: !host "${SA}", privileges: [ read, execute ], resource: [ !variable db/username, !variable db/password, !variable db/url, !variable cert ] }
- !grant { role: !group conjur/authn-jwt/k8s/apps, member: !host "test-app/${SA}" }
`;

/** Kubernetes' Downward API file: one `key="value"` a line, the value Go-quoted. */
const downwardApi = (annotations: Record<string, string>): string =>
  Object.entries(annotations)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join("\n") + "\n";

clientSuite("Secrets Provider for K8s (push-to-file, authn-jwt)", VERSION, bin, () => {
  let server: TestServer;
  let cert: TestCertificate;
  let issuer: Issuer;

  before(async function () {
    this.timeout(60_000);
    if (process.getuid?.() !== 0) this.skip(); // unshare -m needs root (CI and these machines run as root)
    cert = selfSignedCertificate();
    server = await startTestServer({
      account: ACCOUNT,
      env: { STRONGROOM_AUTHENTICATORS: "authn,authn-jwt/k8s" },
      flags: { "tls-cert": cert.certFile, "tls-key": cert.keyFile },
    });
    issuer = await jwtIssuer();
    const admin = await adminOf(server, cert.cert);
    await admin.loadPolicy("root", POLICY);
    const values: Record<string, string> = {
      "conjur/authn-jwt/k8s/public-keys": JSON.stringify({ type: "jwks", value: issuer.jwks }),
      "conjur/authn-jwt/k8s/issuer": ISSUER,
      "conjur/authn-jwt/k8s/audience": "conjur",
      "conjur/authn-jwt/k8s/token-app-property": "sub",
      "conjur/authn-jwt/k8s/identity-path": "test-app",
      "test-app/db/username": "admin-user",
      "test-app/db/password": 'p@ss"word\\n $x',
      "test-app/db/url": "postgres://db:5432/app",
      "test-app/cert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
      "test-app/forbidden": "nope",
    };
    for (const [id, value] of Object.entries(values)) await admin.setSecret(id, value);
  });
  after(async () => {
    await server?.close();
  });

  /** A pod's files in a temp folder, the provider run once inside the sandbox. */
  async function runProvider(annotations: Record<string, string>, token?: string) {
    const pod = tempDir("sp");
    for (const dir of ["conjur/podinfo", "conjur/secrets", "conjur/templates", "conjur/status", "serviceaccount"])
      mkdirSync(join(pod, dir), { recursive: true });
    cpSync(join(CACHE, `secrets-provider-${VERSION}`, "usr-local-bin"), join(pod, "usr-local-bin"), {
      recursive: true,
    });
    writeFileSync(
      join(pod, "conjur/podinfo/annotations"),
      downwardApi({
        "conjur.org/container-mode": "init",
        "conjur.org/secrets-destination": "file",
        "conjur.org/retry-count-limit": "0",
        ...annotations,
      }),
    );
    writeFileSync(
      join(pod, "serviceaccount/token"),
      token ??
        (await issuer.mint({
          iss: ISSUER,
          aud: "conjur",
          sub: SA,
          "kubernetes.io": { namespace: "apps", serviceaccount: { name: "test-app" } },
        })),
    );
    const r = await run(SANDBOX, [bin.path], {
      timeoutMs: 60_000,
      env: {
        POD_DIR: pod,
        CONJUR_AUTHN_URL: `${server.url}/authn-jwt/k8s`,
        CONJUR_ACCOUNT: ACCOUNT,
        CONJUR_APPLIANCE_URL: server.url,
        CONJUR_SSL_CERTIFICATE: cert.cert.toString(),
        MY_POD_NAMESPACE: "apps",
        MY_POD_NAME: "test-app-7d9f",
      },
    });
    const file = (name: string): string => readFileSync(join(pod, "conjur/secrets", name), "utf8");
    return { ...r, pod, file, exists: (name: string) => existsSync(join(pod, "conjur/secrets", name)) };
  }

  it("writes YAML (policy path, aliases), dotenv, JSON, bash and properties files as the annotations ask; CONJUR_SECRETS_PROVIDED", async () => {
    const r = await runProvider({
      "conjur.org/conjur-secrets.db": "- username: db/username\n- password: db/password\n- url: db/url\n",
      "conjur.org/conjur-secrets-policy-path.db": "test-app/",
      "conjur.org/secret-file-path.db": "./db.yaml",
      "conjur.org/secret-file-format.db": "yaml",
      "conjur.org/conjur-secrets.env": "- DB_USER: test-app/db/username\n- DB_URL: test-app/db/url\n",
      "conjur.org/secret-file-format.env": "dotenv",
      "conjur.org/conjur-secrets.js": "- test-app/db/url\n",
      "conjur.org/secret-file-format.js": "json",
      "conjur.org/conjur-secrets.sh": "- DB_PASSWORD: test-app/db/password\n",
      "conjur.org/secret-file-format.sh": "bash",
      "conjur.org/conjur-secrets.props": "- db.user: test-app/db/username\n",
      "conjur.org/secret-file-format.props": "properties",
    });
    expect(r.code, r.out).to.equal(0);
    expect(r.out).to.include("CSPFK015I DAP/Conjur Secrets pushed to shared volume successfully");
    expect(r.file("db.yaml")).to.equal(
      '"username": "admin-user"\n"password": "p@ss\\"word\\\\n $x"\n"url": "postgres://db:5432/app"',
    );
    expect(r.file("env.dotenv")).to.equal('DB_USER="admin-user"\nDB_URL="postgres://db:5432/app"');
    expect(JSON.parse(r.file("js.json"))).to.deep.equal({ url: "postgres://db:5432/app" });
    expect(r.file("sh.bash")).to.equal('export DB_PASSWORD="p@ss\\"word\\\\n $x"');
    expect(r.file("props.properties")).to.equal('db.user="admin-user"');
    expect(statSync(join(r.pod, "conjur/secrets/db.yaml")).mode & 0o777).to.equal(0o644);
    expect(existsSync(join(r.pod, "conjur/status/CONJUR_SECRETS_PROVIDED"))).to.equal(true);
  });

  it("renders a custom Go template (secret-file-template, secret .Alias) with its file permissions", async () => {
    const r = await runProvider({
      "conjur.org/conjur-secrets.tpl": "- user: test-app/db/username\n- url: test-app/db/url\n- cert: test-app/cert\n",
      "conjur.org/secret-file-format.tpl": "template",
      "conjur.org/secret-file-template.tpl": 'dsn={{ secret "user" }}@{{ secret "url" }}\n{{ secret "cert" }}\n',
      "conjur.org/secret-file-permissions.tpl": "-rw-------",
    });
    expect(r.code, r.out).to.equal(0);
    expect(r.file("tpl.out")).to.equal(
      "dsn=admin-user@postgres://db:5432/app\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    );
    expect(statSync(join(r.pod, "conjur/secrets/tpl.out")).mode & 0o777).to.equal(0o600);
  });

  it("a variable the host may not read fails the run (exit 1, 403 from the batch) and writes no file", async () => {
    const r = await runProvider({
      "conjur.org/conjur-secrets.bad": "- test-app/db/url\n- test-app/forbidden\n",
      "conjur.org/secret-file-format.bad": "json",
    });
    expect(r.code).to.equal(1);
    expect(r.out).to.match(/403|Forbidden/);
    expect(r.exists("bad.json")).to.equal(false);
  });

  it("a JWT from another issuer is refused (401) and nothing is written", async () => {
    const token = await issuer.mint({
      iss: "https://evil.example",
      aud: "conjur",
      sub: SA,
      "kubernetes.io": { namespace: "apps" },
    });
    const r = await runProvider(
      { "conjur.org/conjur-secrets.db": "- test-app/db/url\n", "conjur.org/secret-file-format.db": "json" },
      token,
    );
    expect(r.code).to.equal(1);
    expect(r.out).to.match(/401|authenticat/i);
    expect(r.exists("db.json")).to.equal(false);
  });
});

/** A Kubernetes REST call as the cluster admin, trusting the control plane's CA. */
async function kube(
  cp: ControlPlane,
  method: string,
  path: string,
  body?: unknown,
  accept = "application/json",
): Promise<{ status: number; json: any }> {
  const { request } = await import("node:https");
  return new Promise((resolve, reject) => {
    const req = request(
      `${cp.server}${path}`,
      {
        method,
        ca: cp.caPem,
        headers: { authorization: `Bearer ${cp.adminToken}`, "content-type": "application/json", accept },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

clientSuite(
  "Secrets Provider for K8s (K8s Secrets mode, real kube-apiserver)",
  VERSION,
  bin.missing ? bin : controlPlaneBinaries(),
  () => {
    let cp: ControlPlane;
    let server: TestServer;
    let cert: TestCertificate;
    const SP_SA = "system:serviceaccount:apps:secrets-provider";

    before(async function () {
      this.timeout(180_000);
      if (process.getuid?.() !== 0) this.skip();
      cp = await startControlPlane();
      cert = selfSignedCertificate();
      server = await startTestServer({
        account: ACCOUNT,
        env: { STRONGROOM_AUTHENTICATORS: "authn,authn-jwt/k8s" },
        flags: { "tls-cert": cert.certFile, "tls-key": cert.keyFile },
      });
      const must = async (what: string, p: Promise<{ status: number; json: any }>) => {
        const r = await p;
        if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.json)}`);
        return r;
      };
      await must("namespace", kube(cp, "POST", "/api/v1/namespaces", { metadata: { name: "apps" } }));
      await must(
        "sa",
        kube(cp, "POST", "/api/v1/namespaces/apps/serviceaccounts", { metadata: { name: "secrets-provider" } }),
      );
      await must(
        "role",
        kube(cp, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/apps/roles", {
          metadata: { name: "secrets-provider" },
          rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "update", "patch"] }],
        }),
      );
      await must(
        "binding",
        kube(cp, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/apps/rolebindings", {
          metadata: { name: "secrets-provider" },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "secrets-provider" },
          subjects: [{ kind: "ServiceAccount", name: "secrets-provider", namespace: "apps" }],
        }),
      );
      await must(
        "secret",
        kube(cp, "POST", "/api/v1/namespaces/apps/secrets", {
          metadata: { name: "db-credentials" },
          type: "Opaque",
          stringData: { "conjur-map": "username: test-app/db/username\npassword: test-app/db/password\n" },
        }),
      );
      // Strongroom trusts the cluster's own service-account signing keys (its JWKS), as in a real install.
      const jwks = (await must("jwks", kube(cp, "GET", "/openid/v1/jwks", undefined, "application/jwk-set+json"))).json;
      const admin = await adminOf(server, cert.cert);
      await admin.loadPolicy("root", POLICY.replaceAll(SA, SP_SA));
      const values: Record<string, string> = {
        "conjur/authn-jwt/k8s/public-keys": JSON.stringify({ type: "jwks", value: jwks }),
        "conjur/authn-jwt/k8s/issuer": cp.issuer,
        "conjur/authn-jwt/k8s/audience": cp.issuer, // a TokenRequest's default audience: the API server's (= its issuer)
        "conjur/authn-jwt/k8s/token-app-property": "sub",
        "conjur/authn-jwt/k8s/identity-path": "test-app",
        "test-app/db/username": "k8s-user",
        "test-app/db/password": "k8s p@ss",
      };
      for (const [id, value] of Object.entries(values)) await admin.setSecret(id, value);
    });
    after(async () => {
      await server?.close();
      await cp?.stop();
    });

    it("fills the Secret named in K8S_SECRETS from its conjur-map, logging in with the pod's real service-account token (TokenRequest) through authn-jwt", async function () {
      this.timeout(90_000);
      const token = (
        await kube(cp, "POST", "/api/v1/namespaces/apps/serviceaccounts/secrets-provider/token", {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: { expirationSeconds: 3600 },
        })
      ).json.status.token as string;
      const pod = tempDir("sp-k8s");
      for (const dir of ["conjur/podinfo", "conjur/secrets", "conjur/status", "serviceaccount"])
        mkdirSync(join(pod, dir), { recursive: true });
      cpSync(join(CACHE, `secrets-provider-${VERSION}`, "usr-local-bin"), join(pod, "usr-local-bin"), {
        recursive: true,
      });
      writeFileSync(join(pod, "serviceaccount/token"), token);
      writeFileSync(join(pod, "serviceaccount/ca.crt"), cp.caPem);
      writeFileSync(join(pod, "serviceaccount/namespace"), "apps");
      const port = new URL(cp.server).port;
      const r = await run(SANDBOX, [bin.path], {
        timeoutMs: 60_000,
        env: {
          POD_DIR: pod,
          KUBERNETES_SERVICE_HOST: "127.0.0.1",
          KUBERNETES_SERVICE_PORT: port,
          CONJUR_AUTHN_URL: `${server.url}/authn-jwt/k8s`,
          CONJUR_ACCOUNT: ACCOUNT,
          CONJUR_APPLIANCE_URL: server.url,
          CONJUR_SSL_CERTIFICATE: cert.cert.toString(),
          MY_POD_NAMESPACE: "apps",
          MY_POD_NAME: "app-7d9f",
          SECRETS_DESTINATION: "k8s_secrets",
          K8S_SECRETS: "db-credentials",
          CONTAINER_MODE: "init",
          RETRY_COUNT_LIMIT: "0",
        },
      });
      expect(r.code, r.out).to.equal(0);
      const secret = (await kube(cp, "GET", "/api/v1/namespaces/apps/secrets/db-credentials")).json;
      const data = Object.fromEntries(
        Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
      );
      expect(data).to.include({ username: "k8s-user", password: "k8s p@ss" });
    });
  },
);

function controlPlaneBinaries(): { path: string; missing?: string } {
  const absent = Object.values(binaries).find((b) => !existsSync(b));
  return absent
    ? { path: absent, missing: `no control plane binaries (${absent}); build them with harness/build-control-plane.sh` }
    : { path: binaries.apiserver };
}
