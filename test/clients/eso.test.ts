/**
 * External Secrets Operator's Conjur provider, the real controller (v0.16.2, the newest single-module
 * release the Go module proxy serves), against Strongroom over https and a real kube-apiserver: a
 * SecretStore with `apikey` auth and one with `jwt` auth (ESO asks the API server for a TokenRequest
 * token; Strongroom trusts the cluster's JWKS), ExternalSecrets synced into Secrets, a rotation picked
 * up on refresh, and `find` by name regexp. Its build is not in the default set (harness/clients/build.sh
 * eso): without the binary this block is skipped and the table says so.
 */
import { expect } from "chai";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { kubectl } from "../cluster/chart.js";
import { binaries, startControlPlane, type ControlPlane } from "../cluster/control-plane.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { selfSignedCertificate, type TestCertificate } from "../support/tls.js";
import { adminOf, built, clientSuite, VERSIONS } from "./support.js";
import { authnJwtPolicy } from "../support/authn-jwt-policy.js";

const VERSION = VERSIONS.eso!;
const eso = built(`external-secrets-${VERSION}`, "external-secrets");
const ACCOUNT = "conjur";
const ESO_SA = "system:serviceaccount:eso:eso-app";

const POLICY = `
${authnJwtPolicy("k8s")}
- !policy
  id: eso
  body:
  - !variable db/password
  - !variable db/user
  - !host reader
  - !host { id: "${ESO_SA}", annotations: { authn-jwt/k8s/kubernetes.io/namespace: eso } }
  - !permit { role: !host reader, privileges: [ read, execute ], resource: [ !variable db/password, !variable db/user ] }
  - !permit { role: !host "${ESO_SA}", privileges: [ read, execute ], resource: [ !variable db/password, !variable db/user ] }
- !grant { role: !group conjur/authn-jwt/k8s/apps, member: !host "eso/${ESO_SA}" }
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function esoRequirements(): { path: string; missing?: string } {
  if (eso.missing) return eso;
  const absent = Object.values(binaries).find((b) => !existsSync(b));
  return absent ? { path: absent, missing: `no control plane binaries (${absent})` } : eso;
}

clientSuite("External Secrets Operator (Conjur provider)", VERSION, esoRequirements(), () => {
  let cp: ControlPlane;
  let server: TestServer;
  let cert: TestCertificate;
  let controller: ChildProcess | undefined;
  let admin: Awaited<ReturnType<typeof adminOf>>;
  const logs: string[] = [];

  const secretData = (name: string): Record<string, string> | undefined => {
    try {
      const secret = JSON.parse(kubectl(cp, ["-n", "eso", "get", "secret", name, "-o", "json"])) as {
        data?: Record<string, string>;
      };
      return Object.fromEntries(
        Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
      );
    } catch {
      return undefined;
    }
  };
  const until = async <T>(what: string, probe: () => T | undefined, ms = 60_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const value = probe();
      if (value !== undefined) return value;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${logs.slice(-20).join("")}`);
      await sleep(500);
    }
  };
  const store = (name: string, auth: unknown) => ({
    apiVersion: "external-secrets.io/v1",
    kind: "SecretStore",
    metadata: { name, namespace: "eso" },
    spec: { provider: { conjur: { url: server.url, caBundle: cert.cert.toString("base64"), auth } } },
  });
  const externalSecret = (name: string, storeName: string, spec: Record<string, unknown>) => ({
    apiVersion: "external-secrets.io/v1",
    kind: "ExternalSecret",
    metadata: { name, namespace: "eso" },
    spec: {
      refreshInterval: "2s",
      secretStoreRef: { name: storeName, kind: "SecretStore" },
      target: { name },
      ...spec,
    },
  });
  const apply = (...objects: unknown[]) =>
    kubectl(cp, ["apply", "-f", "-"], objects.map((o) => JSON.stringify(o)).join("\n"));

  before(async function () {
    this.timeout(240_000);
    cp = await startControlPlane();
    cert = selfSignedCertificate();
    server = await startTestServer({
      account: ACCOUNT,
      env: { STRONGROOM_AUTHENTICATORS: "authn,authn-jwt/k8s" },
      flags: { "tls-cert": cert.certFile, "tls-key": cert.keyFile },
    });
    admin = await adminOf(server, cert.cert);
    const loaded = await admin.loadPolicy("root", POLICY);
    const jwks = JSON.parse(kubectl(cp, ["get", "--raw", "/openid/v1/jwks"])) as unknown;
    for (const [id, value] of Object.entries({
      "conjur/authn-jwt/k8s/public-keys": JSON.stringify({ type: "jwks", value: jwks }),
      "conjur/authn-jwt/k8s/issuer": cp.issuer,
      "conjur/authn-jwt/k8s/audience": "conjur",
      "conjur/authn-jwt/k8s/token-app-property": "sub",
      "conjur/authn-jwt/k8s/identity-path": "eso",
      "eso/db/password": "first",
      "eso/db/user": "app",
    }))
      await admin.setSecret(id, value);
    // The CRDs of that same release, from its module zip (the Go module cache).
    const moduleDir = (
      JSON.parse(
        execFileSync("go", ["mod", "download", "-json", `github.com/external-secrets/external-secrets@${VERSION}`], {
          encoding: "utf8",
        }),
      ) as { Dir: string }
    ).Dir;
    const crds = join(moduleDir, "config", "crds", "bases");
    for (const file of readdirSync(crds).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml"))
      kubectl(cp, ["apply", "--server-side", "-f", join(crds, file)]);
    kubectl(cp, [
      "wait",
      "--for=condition=Established",
      "crd/externalsecrets.external-secrets.io",
      "crd/secretstores.external-secrets.io",
      "--timeout=60s",
    ]);
    kubectl(cp, ["create", "namespace", "eso"]);
    kubectl(cp, ["-n", "eso", "create", "serviceaccount", "eso-app"]);
    const hostKey = loaded.created_roles[`${ACCOUNT}:host:eso/reader`]!.api_key;
    apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "conjur-creds", namespace: "eso" },
      stringData: { user: "host/eso/reader", apikey: hostKey },
    });
    controller = spawn(eso.path, ["--metrics-addr=0", "--enable-leader-election=false", "--loglevel=info"], {
      env: { PATH: process.env.PATH ?? "", KUBECONFIG: cp.adminKubeconfig },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    controller.stdout?.on("data", (c: Buffer) => logs.push(c.toString()));
    controller.stderr?.on("data", (c: Buffer) => logs.push(c.toString()));
  });
  after(async function () {
    this.timeout(60_000);
    if (controller?.pid) process.kill(-controller.pid, "SIGTERM");
    await server?.close();
    await cp?.stop();
  });

  it("apikey SecretStore: an ExternalSecret is synced into a Secret", async function () {
    this.timeout(90_000);
    apply(
      store("conjur-apikey", {
        apikey: {
          account: ACCOUNT,
          userRef: { name: "conjur-creds", key: "user" },
          apiKeyRef: { name: "conjur-creds", key: "apikey" },
        },
      }),
    );
    apply(
      externalSecret("db", "conjur-apikey", {
        data: [
          { secretKey: "password", remoteRef: { key: "eso/db/password" } },
          { secretKey: "user", remoteRef: { key: "eso/db/user" } },
        ],
      }),
    );
    expect(await until("Secret db", () => (secretData("db")?.password ? secretData("db") : undefined))).to.deep.equal({
      password: "first",
      user: "app",
    });
  });

  it("a rotation in Strongroom reaches the Secret on the next refresh", async function () {
    this.timeout(90_000);
    await admin.setSecret("eso/db/password", "rotated");
    expect(
      await until("the rotated value", () => (secretData("db")?.password === "rotated" ? "rotated" : undefined)),
    ).to.equal("rotated");
  });

  it("find by name regexp lists our variables (dataFrom)", async function () {
    this.timeout(90_000);
    apply(externalSecret("found", "conjur-apikey", { dataFrom: [{ find: { name: { regexp: "^eso/db/" } } }] }));
    const data = await until("Secret found", () =>
      Object.keys(secretData("found") ?? {}).length >= 2 ? secretData("found") : undefined,
    );
    expect(Object.values(data).sort()).to.deep.equal(["app", "rotated"]);
  });

  it("jwt SecretStore (serviceAccountRef: ESO asks for a TokenRequest token) syncs too", async function () {
    this.timeout(90_000);
    apply(
      store("conjur-jwt", {
        jwt: { account: ACCOUNT, serviceID: "k8s", serviceAccountRef: { name: "eso-app", audiences: ["conjur"] } },
      }),
    );
    apply(externalSecret("viajwt", "conjur-jwt", { data: [{ secretKey: "user", remoteRef: { key: "eso/db/user" } }] }));
    expect(
      await until("Secret viajwt", () => (secretData("viajwt")?.user ? secretData("viajwt") : undefined)),
    ).to.deep.equal({ user: "app" });
  });
});
