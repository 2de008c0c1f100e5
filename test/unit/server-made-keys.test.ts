import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import { ConfigError, loadConfig } from "../../src/config.js";
import { issueServingCertificate, serviceDnsNames } from "../../src/kubernetes/bootstrap/certificates.js";
import { ensureDataKeySecret } from "../../src/kubernetes/bootstrap/data-key-secret.js";
import { saveInitialAdminKey } from "../../src/kubernetes/bootstrap/admin-key-secret.js";
import type { SecretData, SecretStore } from "../../src/kubernetes/bootstrap/secret-store.js";
import { ensureCaBundle, type WebhookConfigApi } from "../../src/kubernetes/bootstrap/webhook-tls.js";

/** An in-memory store; `beforeCreate` lets a test slip a racing replica's write in. */
function memoryStore(
  initial: Record<string, SecretData> = {},
  beforeCreate?: (store: Map<string, SecretData>) => void,
): SecretStore & { secrets: Map<string, SecretData>; writes: string[] } {
  const secrets = new Map(Object.entries(initial));
  const writes: string[] = [];
  return {
    secrets,
    writes,
    read: async (name) => secrets.get(name),
    async create(name, data) {
      beforeCreate?.(secrets);
      if (secrets.has(name)) return false;
      secrets.set(name, data);
      writes.push(`create ${name}`);
      return true;
    },
    async replace(name, data) {
      secrets.set(name, data);
      writes.push(`replace ${name}`);
    },
  };
}

const KEY_A = Buffer.alloc(32, 1).toString("base64");
const KEY_B = Buffer.alloc(32, 2).toString("base64");
const always = async () => true;

describe("server-made keys (pure logic)", () => {
  it("creates a data key when absent and reuses it afterwards", async () => {
    const store = memoryStore();
    const first = await ensureDataKeySecret(store, "dk", { mayCreate: always });
    expect(first.created).to.equal(true);
    expect(Buffer.from(first.dataKey, "base64")).to.have.length(32);
    const second = await ensureDataKeySecret(store, "dk", { mayCreate: always });
    expect(second).to.deep.equal({ dataKey: first.dataKey, created: false });
    expect(store.writes).to.deep.equal(["create dk"]);
  });

  it("adopts the key of a replica that created the Secret first (409), never its own", async () => {
    const store = memoryStore({}, (s) => s.set("dk", { "data-key": Buffer.from(KEY_B) }));
    expect(await ensureDataKeySecret(store, "dk", { mayCreate: always })).to.deep.equal({
      dataKey: KEY_B,
      created: false,
    });
    expect(store.writes).to.deep.equal([]);
  });

  it("never overwrites a malformed Secret, and never invents a key for a database that has data", async () => {
    const bad = memoryStore({ dk: { "data-key": Buffer.from("c2hvcnQ=") } });
    const err = await ensureDataKeySecret(bad, "dk", { mayCreate: always }).catch((e: Error) => e);
    expect((err as Error).message).to.match(/exists but .* never overwritten/);
    expect(bad.writes).to.deep.equal([]);
    const lost = memoryStore();
    const refused = await ensureDataKeySecret(lost, "dk", { mayCreate: async () => false }).catch((e: Error) => e);
    expect((refused as Error).message).to.contain("restore the Secret from your backup");
    expect(lost.secrets.size).to.equal(0);
    expect(
      (
        await ensureDataKeySecret(memoryStore({ dk: { "data-key": Buffer.from(KEY_A + "\n") } }), "dk", {
          mayCreate: always,
        })
      ).dataKey,
    ).to.equal(KEY_A);
  });

  it("stores the initial admin key, replacing a stale one (the account is new)", async () => {
    const store = memoryStore({ admin: { "api-key": Buffer.from("stale") } });
    expect(await saveInitialAdminKey(store, "admin", "default", "k1")).to.equal("replaced");
    expect(store.secrets.get("admin")!["api-key"]!.toString()).to.equal("k1");
    expect(await saveInitialAdminKey(memoryStore(), "admin", "default", "k2")).to.equal("created");
  });

  it("issues a CA and a serving certificate for the Service's names", () => {
    const issued = issueServingCertificate({
      caName: "sr-ca",
      dnsNames: serviceDnsNames("sr", "ns"),
      validityDays: 30,
    });
    const ca = new X509Certificate(issued.caPem);
    const cert = new X509Certificate(issued.certPem);
    expect(ca.ca).to.equal(true);
    expect(cert.ca).to.equal(false);
    expect(cert.verify(ca.publicKey)).to.equal(true);
    expect(cert.checkIssued(ca)).to.equal(true);
    expect(cert.subjectAltName).to.equal("DNS:sr.ns.svc, DNS:sr.ns, DNS:sr, DNS:sr.ns.svc.cluster.local");
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).to.be.within(29, 31);
  });

  it("patches caBundle only where it differs", async () => {
    const calls: unknown[] = [];
    const api = (bundles: (string | undefined)[]): WebhookConfigApi => ({
      read: async () =>
        bundles.map((caBundle, i) => ({ name: `w${i}`, caBundle, service: { name: "sr", namespace: "ns" } })),
      setCaBundle: async (_name, entries, caBundle) => void calls.push({ entries, caBundle }),
    });
    const pem = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n";
    const b64 = Buffer.from(pem).toString("base64");
    expect(await ensureCaBundle(api([b64, b64]), "cfg", pem)).to.equal(false);
    expect(await ensureCaBundle(api([b64, undefined]), "cfg", pem)).to.equal(true);
    expect(calls).to.deep.equal([{ entries: [{ index: 1, name: "w1" }], caBundle: b64 }]);
  });

  it("validates the settings with one-line messages", () => {
    const fails = (flags: Record<string, string>, env: Record<string, string>, pattern: RegExp) =>
      expect(() => loadConfig(flags, env)).to.throw(ConfigError, pattern);
    fails({ "data-key-secret": "k" }, { STRONGROOM_DATA_KEY: KEY_A }, /alternatives/);
    fails({ "webhook-tls-secret": "t" }, {}, /needs --webhook-config/);
    fails({ "webhook-tls-secret": "t", "webhook-config": "c", "tls-cert": "a", "tls-key": "b" }, {}, /alternatives/);
    fails({ "admin-key-secret": "Not_A_Name" }, {}, /must be a Kubernetes object name/);
    const ok = loadConfig(
      {
        "database-url": "postgres://db/s",
        "data-key-secret": "k",
        "webhook-tls-secret": "t",
        "webhook-config": "c",
        "webhook-port": "0",
      },
      {},
    );
    expect(ok).to.include({
      dataKeySecret: "k",
      webhookTlsSecret: "t",
      webhookConfig: "c",
      webhookCertDays: 3650,
      dataKey: undefined,
    });
  });
});
