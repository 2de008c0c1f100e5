import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { pino } from "pino";
import { TlsReloader, type TlsPair } from "../../src/http/tls-reloader.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { httpsRequest, selfSignedCertificate, type TestCertificate } from "../support/tls.js";

/** The SHA-256 fingerprint of the certificate a new TLS connection is served. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((ok, fail) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false }, () => {
      ok(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on("error", fail);
  });
}

const fingerprintOf = (cert: TestCertificate): string => new X509Certificate(cert.cert).fingerprint256;

async function eventually(check: () => Promise<boolean>, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${withinMs} ms`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

/** A directory laid out as the kubelet mounts a Secret: files are symlinks through `..data`. */
class SecretVolume {
  #version = 0;
  constructor(readonly dir: string) {}

  publish(cert: string, key: string): void {
    const version = `..version_${++this.#version}`;
    mkdirSync(join(this.dir, version));
    copyFileSync(cert, join(this.dir, version, "tls.crt"));
    copyFileSync(key, join(this.dir, version, "tls.key"));
    // The kubelet's atomic update: a new ..data link renamed over the old one.
    symlinkSync(version, join(this.dir, "..data_tmp"));
    renameSync(join(this.dir, "..data_tmp"), join(this.dir, "..data"));
    if (this.#version === 1) for (const f of ["tls.crt", "tls.key"]) symlinkSync(join("..data", f), join(this.dir, f));
  }
}

describe("TLS certificates rotated on disk", function () {
  this.timeout(60_000);
  const a = selfSignedCertificate();
  const b = selfSignedCertificate();
  const c = selfSignedCertificate();
  let volume: SecretVolume;
  let server: TestServer;

  before(async () => {
    volume = new SecretVolume(mkdtempSync(join(tmpdir(), "strongroom-secret-volume-")));
    volume.publish(a.certFile, a.keyFile);
    server = await startTestServer({
      flags: { "tls-cert": join(volume.dir, "tls.crt"), "tls-key": join(volume.dir, "tls.key"), "webhook-port": "0" },
    });
  });
  after(async () => {
    await server.close();
    rmSync(volume.dir, { recursive: true, force: true });
  });

  it("serves a renewed certificate to new connections, on the REST API and the webhook, without a restart", async () => {
    expect(await servedFingerprint(server.port)).to.equal(fingerprintOf(a));
    expect(await servedFingerprint(server.webhookPort!)).to.equal(fingerprintOf(a));
    volume.publish(b.certFile, b.keyFile);
    await eventually(async () => (await servedFingerprint(server.port)) === fingerprintOf(b), 5000);
    await eventually(async () => (await servedFingerprint(server.webhookPort!)) === fingerprintOf(b), 5000);
    const health = await httpsRequest(`https://localhost:${server.port}/health`, b.cert);
    expect(health.status).to.equal(200);
  });

  it("keeps the current certificate when the new pair does not match, and says so", async () => {
    volume.publish(c.certFile, a.keyFile); // cert of C, key of A: a broken renewal
    await eventually(
      async () =>
        /strongroom_tls_reloads_total\{outcome="refused"\} [1-9]/.test(
          (await httpsRequest(`https://localhost:${server.port}/metrics`, b.cert)).text,
        ),
      5000,
    );
    expect(await servedFingerprint(server.port)).to.equal(fingerprintOf(b));
    expect(await servedFingerprint(server.webhookPort!)).to.equal(fingerprintOf(b));
    volume.publish(c.certFile, c.keyFile);
    await eventually(async () => (await servedFingerprint(server.port)) === fingerprintOf(c), 5000);
  });
});

describe("the TLS reloader", () => {
  const a = selfSignedCertificate();
  const b = selfSignedCertificate();
  const pair = (cert: TestCertificate): TlsPair => ({ cert: cert.cert, key: readFileSync(cert.keyFile) });

  it("applies a changed pair once, refuses a mismatched one, and ignores an unchanged one", () => {
    const dir = mkdtempSync(join(tmpdir(), "strongroom-reload-"));
    const files = { certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key") };
    copyFileSync(a.certFile, files.certFile);
    copyFileSync(a.keyFile, files.keyFile);
    const applied: TlsPair[] = [];
    const reloader = new TlsReloader(
      files,
      [{ setSecureContext: (p) => applied.push(p) }],
      pino({ level: "silent" }),
      pair(a),
    );
    try {
      expect(reloader.reload()).to.equal(false);
      copyFileSync(b.certFile, files.certFile); // certificate written, key not yet
      expect(reloader.reload()).to.equal(false);
      expect(applied).to.have.length(0);
      copyFileSync(b.keyFile, files.keyFile);
      expect(reloader.reload()).to.equal(true);
      expect(reloader.reload()).to.equal(false);
      expect(applied).to.deep.equal([pair(b)]);
      rmSync(files.keyFile);
      expect(reloader.reload()).to.equal(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("re-reads on its timer too, where file-system events never come", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strongroom-reload-"));
    const files = { certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key") };
    copyFileSync(a.certFile, files.certFile);
    copyFileSync(a.keyFile, files.keyFile);
    const applied: TlsPair[] = [];
    // Events settle for ten minutes: only the 100 ms timer can apply the new pair in time.
    const reloader = new TlsReloader(
      files,
      [{ setSecureContext: (p) => applied.push(p) }],
      pino({ level: "silent" }),
      pair(a),
      { intervalMs: 100, settleMs: 600_000 },
    );
    reloader.start();
    try {
      copyFileSync(b.certFile, files.certFile);
      copyFileSync(b.keyFile, files.keyFile);
      await eventually(async () => applied.length === 1, 3000);
      expect(applied).to.deep.equal([pair(b)]);
    } finally {
      reloader.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
