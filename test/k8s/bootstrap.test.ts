import { expect } from "chai";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { helmPath, kubectlPath } from "../support/binaries.js";
import { freshDatabase } from "../support/postgres.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { TestApiServer } from "./apiserver/server.js";

/**
 * The chart's deployment, end to end against the test API server: the rendered chart applied
 * with the real kubectl, then the real server starting with the chart's settings. The server
 * makes the data key, the webhook CA and the initial-admin Secret itself; nothing is ever
 * overwritten, and re-applying the chart changes nothing.
 */
const NS = "strongroom";
const SETTINGS = {
  "data-key-secret": "sr-strongroom-data-key",
  "webhook-tls-secret": "sr-strongroom-webhook-tls",
  "webhook-config": "sr-strongroom",
  "admin-key-secret": "sr-strongroom-initial-admin",
  namespace: NS,
  "webhook-port": "0",
};
const SERVICE_HOST = "sr-strongroom.strongroom.svc";

function exec(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: "utf8", timeout: 60_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A request over TLS that trusts only `ca` and checks the certificate names `SERVICE_HOST`, as the kube-apiserver does. */
function viaService(
  port: number,
  ca: Buffer,
  path: string,
  opts: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; text: string; peer: X509Certificate }> {
  return new Promise((ok, fail) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: opts.method ?? "GET",
        headers: opts.headers,
        ca,
        servername: SERVICE_HOST,
      },
      (res) => {
        const peer = new X509Certificate((res.socket as import("node:tls").TLSSocket).getPeerCertificate().raw);
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => ok({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), peer }));
      },
    );
    req.on("error", fail);
    req.end(opts.body);
  });
}

describe("server-made keys in the chart's deployment (data key, webhook CA, initial admin key)", function () {
  this.timeout(120_000);
  let api: TestApiServer;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let admission: k8s.AdmissionregistrationV1Api;
  let dir: string;
  const started: TestServer[] = [];

  const secret = async (name: string, namespace = NS): Promise<k8s.V1Secret | undefined> =>
    core.readNamespacedSecret({ name, namespace }).catch(() => undefined);
  const field = (s: k8s.V1Secret | undefined, key: string): Buffer => Buffer.from(s?.data?.[key] ?? "", "base64");
  const caBundle = async (): Promise<string | undefined> =>
    (await admission.readMutatingWebhookConfiguration({ name: "sr-strongroom" })).webhooks?.[0]?.clientConfig.caBundle;

  async function start(
    opts: { databaseUrl?: string; namespace?: string; logLines?: string[] } = {},
  ): Promise<TestServer> {
    const server = await startTestServer({
      kubeConfig: kc,
      ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}),
      ...(opts.logLines ? { logLines: opts.logLines } : {}),
      env: { STRONGROOM_DATA_KEY: "" }, // the key comes from the Secret only
      flags: { ...SETTINGS, ...(opts.namespace ? { namespace: opts.namespace } : {}) },
    });
    started.push(server);
    return server;
  }

  /** helm template + kubectl apply, as a GitOps tool does on every sync. */
  async function renderAndApply(): Promise<string> {
    const rendered = await exec(helmPath(), [
      "template",
      "sr",
      "charts/strongroom",
      "--namespace",
      NS,
      "--set",
      "database.url=postgres://db/s",
    ]);
    expect(rendered.code, rendered.stderr).to.equal(0);
    writeFileSync(join(dir, "all.yaml"), rendered.stdout);
    const applied = await exec(kubectlPath(), [
      "--kubeconfig",
      join(dir, "config"),
      "apply",
      "--validate=false",
      "-n",
      NS,
      "-f",
      join(dir, "all.yaml"),
    ]);
    expect(applied.code, applied.stderr).to.equal(0);
    return rendered.stdout;
  }

  async function authenticates(server: TestServer, ca: Buffer, apiKey: string): Promise<boolean> {
    const res = await viaService(server.port, ca, `/authn/${server.account}/admin/authenticate`, {
      method: "POST",
      body: apiKey,
    });
    return res.status === 200;
  }

  before(async () => {
    api = await new TestApiServer().start();
    kc = new k8s.KubeConfig();
    kc.loadFromString(api.kubeconfig());
    core = kc.makeApiClient(k8s.CoreV1Api);
    admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
    dir = mkdtempSync(join(tmpdir(), "strongroom-bootstrap-"));
    writeFileSync(join(dir, "config"), api.kubeconfig());
    await renderAndApply();
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.close()));
  });
  after(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("renders the webhook configuration without a caBundle (nothing for a re-sync to reset)", async () => {
    expect(await caBundle()).to.equal(undefined);
    expect(await secret("sr-strongroom-data-key")).to.equal(undefined);
  });

  let databaseUrl: string;
  let firstKey: Buffer;
  let firstCa: Buffer;

  it("on first start creates the data key, the CA and certificate, patches caBundle, and puts the admin key in a Secret, not the log", async () => {
    databaseUrl = await freshDatabase();
    const logLines: string[] = [];
    const server = await start({ databaseUrl, logLines });

    const dataKey = await secret("sr-strongroom-data-key");
    firstKey = field(dataKey, "data-key");
    expect(Buffer.from(firstKey.toString(), "base64")).to.have.length(32);
    expect(dataKey!.metadata!.labels).to.not.have.property("app.kubernetes.io/instance"); // Argo CD would prune it

    const tls = await secret("sr-strongroom-webhook-tls");
    expect(tls!.type).to.equal("kubernetes.io/tls");
    firstCa = field(tls, "ca.crt");
    const cert = new X509Certificate(field(tls, "tls.crt"));
    expect(cert.subjectAltName).to.contain(`DNS:${SERVICE_HOST}`);
    expect(cert.verify(new X509Certificate(firstCa).publicKey)).to.equal(true);
    expect(await caBundle()).to.equal(firstCa.toString("base64"));

    // The webhook and the REST API answer with a certificate the caBundle vouches for, under the Service name.
    const hook = await viaService(server.webhookPort!, firstCa, "/mutate-pods", {
      method: "POST",
      body: "{}",
      headers: { "Content-Type": "application/json" },
    });
    expect(hook.peer.fingerprint256).to.equal(cert.fingerprint256);
    expect((await viaService(server.port, firstCa, "/health")).status).to.equal(200);

    const admin = await secret("sr-strongroom-initial-admin");
    const apiKey = field(admin, "api-key").toString();
    expect(field(admin, "account").toString()).to.equal(server.account);
    expect(apiKey).to.equal(server.adminKey);
    expect(await authenticates(server, firstCa, apiKey)).to.equal(true);

    const log = logLines.join("\n");
    expect(log).to.contain("initial admin API key written to its Secret");
    expect(log).to.not.contain(apiKey);
    expect(log).to.not.contain(firstKey.toString());
    expect(log).to.not.contain("API key for admin");
  });

  it("keeps the same key and certificate across a restart and a re-render + kubectl apply of the chart", async () => {
    const before = await secret("sr-strongroom-data-key");
    let server = await start({ databaseUrl });
    const apiKey = field(await secret("sr-strongroom-initial-admin"), "api-key").toString();
    const login = await viaService(server.port, firstCa, `/authn/${server.account}/admin/authenticate`, {
      method: "POST",
      body: apiKey,
    });
    const token = Buffer.from(login.text).toString("base64");
    const auth = { Authorization: `Token token="${token}"` };
    expect(
      (
        await viaService(server.port, firstCa, `/policies/${server.account}/policy/root`, {
          method: "POST",
          body: "- !variable db/password",
          headers: auth,
        })
      ).status,
    ).to.equal(201);
    expect(
      (
        await viaService(server.port, firstCa, `/secrets/${server.account}/variable/db%2Fpassword`, {
          method: "POST",
          body: "kept",
          headers: auth,
        })
      ).status,
    ).to.equal(201);
    await server.close();

    await renderAndApply(); // what every Argo CD / Flux sync does
    await renderAndApply();
    expect(await caBundle(), "re-applying the chart must not reset caBundle").to.equal(firstCa.toString("base64"));

    server = await start({ databaseUrl });
    const after = await secret("sr-strongroom-data-key");
    expect(after!.metadata!.resourceVersion).to.equal(before!.metadata!.resourceVersion);
    expect(field(after, "data-key")).to.deep.equal(firstKey);
    expect(field(await secret("sr-strongroom-webhook-tls"), "ca.crt")).to.deep.equal(firstCa);
    expect(await caBundle()).to.equal(firstCa.toString("base64"));
    const relogin = await viaService(server.port, firstCa, `/authn/${server.account}/admin/authenticate`, {
      method: "POST",
      body: apiKey,
    });
    const read = await viaService(server.port, firstCa, `/secrets/${server.account}/variable/db%2Fpassword`, {
      headers: { Authorization: `Token token="${Buffer.from(relogin.text).toString("base64")}"` },
    });
    expect(read).to.include({ status: 200, text: "kept" });
  });

  it("restores a caBundle that was reset, without a new CA", async () => {
    await admission.patchMutatingWebhookConfiguration(
      { name: "sr-strongroom", body: [{ op: "remove", path: "/webhooks/0/clientConfig/caBundle" }] },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
    );
    expect(await caBundle()).to.equal(undefined);
    await start({ databaseUrl });
    expect(await caBundle()).to.equal(firstCa.toString("base64"));
  });

  it("never overwrites an existing data-key Secret: it uses it, and refuses one that is malformed", async () => {
    const ns = "preset";
    const own = Buffer.alloc(32, 7).toString("base64");
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: "sr-strongroom-data-key" }, stringData: { "data-key": own } },
    });
    const url = await freshDatabase();
    await start({ databaseUrl: url, namespace: ns });
    expect(field(await secret("sr-strongroom-data-key", ns), "data-key").toString()).to.equal(own);
    await Promise.all(started.splice(0).map((s) => s.close()));
    // Proof the database is encrypted under that key: a server given it directly starts.
    started.push(await startTestServer({ databaseUrl: url, dataKey: own }));

    const bad = "broken";
    await core.createNamespacedSecret({
      namespace: bad,
      body: { metadata: { name: "sr-strongroom-data-key" }, stringData: { "data-key": "c2hvcnQ=" } },
    });
    const err = await start({ databaseUrl: await freshDatabase(), namespace: bad }).catch((e: Error) => e);
    expect((err as Error).message).to.match(
      /Secret sr-strongroom-data-key exists but its 'data-key' is not the base64 of 32 bytes.*never overwritten/,
    );
    expect(field(await secret("sr-strongroom-data-key", bad), "data-key").toString()).to.equal("c2hvcnQ=");
  });

  it("refuses to make a new key when the Secret is gone but the database holds data", async () => {
    const err = await start({ databaseUrl, namespace: "lost" }).catch((e: Error) => e);
    expect((err as Error).message).to.contain(
      "the data-key Secret sr-strongroom-data-key is missing but the database already holds encrypted data",
    );
    expect(await secret("sr-strongroom-data-key", "lost")).to.equal(undefined);
  });

  it("two servers starting together on a new install agree on one data key, one CA and one admin key", async () => {
    const ns = "race";
    const url = await freshDatabase();
    const [a, b] = await Promise.all([
      start({ databaseUrl: url, namespace: ns }),
      start({ databaseUrl: url, namespace: ns }),
    ]);
    const tls = await secret("sr-strongroom-webhook-tls", ns);
    const ca = field(tls, "ca.crt");
    const fingerprint = new X509Certificate(field(tls, "tls.crt")).fingerprint256;
    for (const server of [a, b])
      expect(
        (await viaService(server.webhookPort!, ca, "/mutate-pods", { method: "POST", body: "{}" })).peer.fingerprint256,
      ).to.equal(fingerprint);
    const apiKey = field(await secret("sr-strongroom-initial-admin", ns), "api-key").toString();
    expect([a.adminApiKey, b.adminApiKey].filter(Boolean)).to.deep.equal([apiKey]); // exactly one created the account
    // Both read what the other wrote: the same data key.
    const tokenFrom = async (server: TestServer) =>
      Buffer.from(
        (
          await viaService(server.port, ca, `/authn/${server.account}/admin/authenticate`, {
            method: "POST",
            body: apiKey,
          })
        ).text,
      ).toString("base64");
    const headersA = { Authorization: `Token token="${await tokenFrom(a)}"` };
    expect(
      (
        await viaService(a.port, ca, `/policies/${a.account}/policy/root`, {
          method: "POST",
          body: "- !variable shared",
          headers: headersA,
        })
      ).status,
    ).to.equal(201);
    expect(
      (
        await viaService(a.port, ca, `/secrets/${a.account}/variable/shared`, {
          method: "POST",
          body: "one key",
          headers: headersA,
        })
      ).status,
    ).to.equal(201);
    const read = await viaService(b.port, ca, `/secrets/${b.account}/variable/shared`, {
      headers: { Authorization: `Token token="${await tokenFrom(b)}"` },
    });
    expect(read).to.include({ status: 200, text: "one key" });
  });
});
