import { expect } from "chai";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import { JwtAuthnFailure } from "../../src/authn/jwt/failures.js";
import { SigningKeyCache } from "../../src/authn/jwt/signing-keys.js";

describe("authn-jwt signing keys from jwks-uri", () => {
  let server: http.Server;
  let uri: string;
  let fetches = 0;
  let answer: { status: number; body: string };

  before(async () => {
    const { publicKey } = await generateKeyPair("RS256");
    answer = { status: 200, body: JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1" }] }) };
    server = http.createServer((_req, res) => {
      fetches++;
      res.statusCode = answer.status;
      res.end(answer.body);
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  after(() => new Promise((ok) => server.close(ok)));

  it("fetches once, then refetches on demand at most N times per interval", async () => {
    let clock = 1_000_000;
    const cache = new SigningKeyCache({ refreshesPerInterval: 2, intervalMs: 300_000, now: () => clock });
    const keys = cache.resolverFor({ kind: "jwks-uri", uri, caCert: undefined });
    const start = fetches;
    await keys.load();
    await keys.load();
    expect(fetches - start, "cached after the first fetch").to.equal(1);
    expect([await keys.refresh(), await keys.refresh(), await keys.refresh()]).to.deep.equal([true, true, false]);
    expect(fetches - start).to.equal(3);
    clock += 300_000;
    expect(await keys.refresh(), "allowed again after the interval").to.equal(true);
    expect(fetches - start).to.equal(4);
  });

  it("fails with Conjur's codes for an HTTP error, a body that is not JSON, an empty key list and ca-cert over http", async () => {
    const failure = async (status: number, body: string, caCert?: string): Promise<string> => {
      answer = { status, body };
      try {
        await new SigningKeyCache().resolverFor({ kind: "jwks-uri", uri, caCert }).load();
      } catch (err) {
        expect(err).to.be.instanceOf(JwtAuthnFailure);
        return (err as Error).message.slice(0, 10);
      }
      throw new Error("expected a failure");
    };
    expect(await failure(404, "{}")).to.equal("CONJ00123E");
    expect(await failure(200, "<html>")).to.equal("CONJ00093E");
    expect(await failure(200, '{"keys":[]}')).to.equal("CONJ00088E");
    expect(await failure(200, '{"keys":[]}', "-----BEGIN CERTIFICATE-----")).to.equal("CONJ00087E");
  });
});
