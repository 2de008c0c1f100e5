import { expect } from "chai";
import { readFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { boundedGet } from "../../src/outbound/bounded-get.js";
import { selfSignedCertificate } from "../support/tls.js";

/** The one outbound GET (JWKS documents): only the given CA, no redirects, bounded size and time. */
describe("outbound/bounded-get: the server's one HTTPS GET", () => {
  const tls = selfSignedCertificate();
  let server: https.Server;
  let base: string;
  const signal = () => AbortSignal.timeout(5_000);

  before(async () => {
    server = https.createServer({ cert: tls.cert, key: readFileSync(tls.keyFile) }, (req, res) => {
      if (req.url === "/big") res.end("x".repeat(10_000));
      else if (req.url === "/redirect") res.writeHead(302, { location: "/small" }).end();
      else if (req.url === "/slow") setTimeout(() => res.end("late"), 2_000);
      else res.end(`hello ${req.headers.authorization ?? "anonymous"}`);
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it("trusts the given CA, and sends the headers", async () => {
    const got = await boundedGet(new URL(`${base}/small`), {
      ca: tls.cert,
      headers: { authorization: "Bearer t" },
      signal: signal(),
      maxBytes: 1024,
    });
    expect(got.status).to.equal(200);
    expect(got.body.toString()).to.equal("hello Bearer t");
  });

  it("refuses a certificate the system CAs do not trust when no CA is given", async () => {
    const err = await boundedGet(new URL(`${base}/small`), { signal: signal(), maxBytes: 1024 }).catch((e: Error) => e);
    expect(err).to.be.instanceOf(Error);
    expect((err as NodeJS.ErrnoException).code).to.match(/CERT|SELF_SIGNED/);
  });

  it("never follows a redirect: the 302 is the answer", async () => {
    const got = await boundedGet(new URL(`${base}/redirect`), { ca: tls.cert, signal: signal(), maxBytes: 1024 });
    expect(got.status).to.equal(302);
  });

  it("stops reading past maxBytes", async () => {
    const err = await boundedGet(new URL(`${base}/big`), { ca: tls.cert, signal: signal(), maxBytes: 4096 }).catch(
      (e: Error) => e,
    );
    expect((err as Error).message).to.include("response exceeds 4096 bytes");
  });

  it("gives up when the caller's signal aborts", async () => {
    const started = Date.now();
    const err = await boundedGet(new URL(`${base}/slow`), {
      ca: tls.cert,
      signal: AbortSignal.timeout(200),
      maxBytes: 1024,
    }).catch((e: Error) => e);
    expect(err).to.be.instanceOf(Error);
    expect(Date.now() - started).to.be.below(1_500);
  });
});
