import { expect } from "chai";
import { normalizeCidr } from "../../src/authn/cidr.js";
import { ClientIpResolver } from "../../src/authn/client-ip.js";
import { isClientAllowed } from "../../src/authn/restrictions.js";
import { parseTrustedProxies } from "../../src/config.js";

describe("client address (Rack's request.ip with Conjur's trusted proxies)", () => {
  const resolver = new ClientIpResolver(["10.9.0.0/16"]);

  it("is the peer when the peer is not a trusted proxy, whatever X-Forwarded-For says", () => {
    expect(resolver.resolve("192.0.2.1", "10.0.0.7")).to.equal("192.0.2.1");
    expect(resolver.resolve("127.0.0.2", "10.0.0.7")).to.equal("127.0.0.2");
  });

  it("through a trusted proxy, is the rightmost untrusted entry, or the first when all are trusted", () => {
    expect(resolver.resolve("127.0.0.1", "10.0.0.7")).to.equal("10.0.0.7");
    expect(resolver.resolve("::1", "10.0.0.7, 192.0.2.9")).to.equal("192.0.2.9");
    expect(resolver.resolve("::ffff:127.0.0.1", "192.0.2.9 10.0.0.7,10.9.1.1")).to.equal("10.0.0.7");
    expect(resolver.resolve("10.9.3.3", "127.0.0.1, 10.9.2.2")).to.equal("127.0.0.1");
    expect(resolver.resolve("127.0.0.1", undefined)).to.equal("127.0.0.1");
  });

  it("strips ports and brackets, and skips entries that are not addresses", () => {
    expect(resolver.resolve("127.0.0.1", "10.0.0.7:8080")).to.equal("10.0.0.7");
    expect(resolver.resolve("127.0.0.1", "[2001:db8::1]:443")).to.equal("2001:db8::1");
    expect(resolver.resolve("127.0.0.1", "10.0.0.7, <script>")).to.equal("10.0.0.7");
    expect(resolver.resolve("127.0.0.1", "garbage")).to.equal("127.0.0.1");
  });
});

describe("CIDRs", () => {
  it("normalises addresses and refuses host bits and non-dotted forms with Conjur's messages", () => {
    expect(normalizeCidr("192.168.101.1")).to.deep.equal({ cidr: "192.168.101.1/32" });
    expect(normalizeCidr("2001:DB8::/32")).to.deep.equal({ cidr: "2001:db8::/32" });
    expect(normalizeCidr("10.0.0.1/24")).to.deep.equal({
      error:
        "Invalid IP address or CIDR range '10.0.0.1/24': Value has bits set to right of mask. Did you mean '10.0.0.0/24'?",
    });
    for (const bad of ["10.1", "0x0a.0.0.1", "10.0.0.0/33", "fe80::1%eth0", "", "a".repeat(500)])
      expect(normalizeCidr(bad)).to.have.property("error");
  });

  it("allows any address when unrestricted, else only inside a listed range", () => {
    expect(isClientAllowed([], "203.0.113.1")).to.equal(true);
    expect(isClientAllowed(["10.0.0.0/24"], "10.0.0.200")).to.equal(true);
    expect(isClientAllowed(["10.0.0.0/24"], "10.0.1.1")).to.equal(false);
    expect(isClientAllowed(["10.0.0.0/24"], undefined)).to.equal(false);
    expect(isClientAllowed(["2001:db8::/32"], "10.0.0.1")).to.equal(false);
  });

  it("reads --trusted-proxies as a normalised list and refuses bad entries", () => {
    expect(parseTrustedProxies(" 10.0.0.1, 192.168.0.0/16 ,")).to.deep.equal(["10.0.0.1/32", "192.168.0.0/16"]);
    expect(() => parseTrustedProxies("10.0.0.1/8")).to.throw(/Did you mean '10.0.0.0\/8'/);
  });
});
