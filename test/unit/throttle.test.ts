import { expect } from "chai";
import { addressKey, AuthnThrottle, FailureThrottle } from "../../src/authn/throttle.js";

describe("unit: failure throttle (fake clock)", () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 1_000_000));

  it("lets a key try until it has failed maxFailures times, then blocks it for the window", () => {
    const t = new FailureThrottle({ maxFailures: 3, windowMs: 60_000, maxEntries: 100, now: clock });
    t.fail("a");
    t.fail("a");
    expect(t.retryAfterSeconds("a")).to.equal(0);
    t.fail("a");
    expect(t.retryAfterSeconds("a")).to.equal(60);
    now += 59_001;
    expect(t.retryAfterSeconds("a")).to.equal(1);
    now += 999;
    expect(t.retryAfterSeconds("a")).to.equal(0);
  });

  it("starts counting afresh once a window has passed without reaching the limit", () => {
    const t = new FailureThrottle({ maxFailures: 2, windowMs: 10_000, maxEntries: 100, now: clock });
    t.fail("a");
    now += 10_000;
    t.fail("a");
    expect(t.retryAfterSeconds("a")).to.equal(0);
    t.fail("a");
    expect(t.retryAfterSeconds("a")).to.equal(10);
  });

  it("forgets a key's failures on success", () => {
    const t = new FailureThrottle({ maxFailures: 2, windowMs: 10_000, maxEntries: 100, now: clock });
    t.fail("a");
    t.succeed("a");
    t.fail("a");
    expect(t.retryAfterSeconds("a")).to.equal(0);
  });

  it("counts keys independently", () => {
    const t = new FailureThrottle({ maxFailures: 1, windowMs: 10_000, maxEntries: 100, now: clock });
    t.fail("a");
    expect(t.retryAfterSeconds("a")).to.be.greaterThan(0);
    expect(t.retryAfterSeconds("b")).to.equal(0);
  });

  it("is off with maxFailures 0", () => {
    const t = new FailureThrottle({ maxFailures: 0, windowMs: 10_000, maxEntries: 100, now: clock });
    for (let i = 0; i < 100; i++) t.fail("a");
    expect(t.retryAfterSeconds("a")).to.equal(0);
    expect(t.size).to.equal(0);
  });

  it("holds at most maxEntries keys under a spray of 100,000, evicting the least recently failed", () => {
    const t = new FailureThrottle({ maxFailures: 2, windowMs: 10_000, maxEntries: 1000, now: clock });
    t.fail("victim");
    t.fail("victim");
    for (let i = 0; i < 100_000; i++) {
      t.fail(`spray-${i}`);
      if (i % 500 === 0) t.fail("recent"); // failing keeps a key recent
    }
    expect(t.size).to.equal(1000);
    expect(t.retryAfterSeconds("spray-99999")).to.equal(0); // one failure: counted, not blocked
    expect(t.retryAfterSeconds("recent")).to.be.greaterThan(0);
  });
});

describe("unit: authn throttle per role and per address", () => {
  const now = 0;
  const make = () =>
    new AuthnThrottle({ maxFailuresPerRole: 3, maxFailuresPerAddress: 5, windowSeconds: 60, now: () => now });

  it("refuses a role after its failures from any addresses, and says which counter refused", () => {
    const t = make();
    t.failed("acct:user:alice", "10.0.0.1");
    t.failed("acct:user:alice", "10.0.0.2");
    t.failed("acct:user:alice", "10.0.0.3");
    expect(t.refusal("acct:user:alice", "10.0.0.9")).to.deep.equal({ reason: "role", retryAfterSeconds: 60 });
    expect(t.refusal("acct:user:bob", "10.0.0.9")).to.equal(undefined);
  });

  it("refuses an address after failures across many roles", () => {
    const t = make();
    for (let i = 0; i < 5; i++) t.failed(`acct:user:u${i}`, "10.0.0.1");
    expect(t.refusal("acct:user:fresh", "10.0.0.1")).to.deep.equal({ reason: "address", retryAfterSeconds: 60 });
    expect(t.refusal("acct:user:fresh", "10.0.0.2")).to.equal(undefined);
  });

  it("resets the role, not the address, on success", () => {
    const t = make();
    for (let i = 0; i < 2; i++) t.failed("acct:user:alice", "10.0.0.1");
    for (let i = 0; i < 2; i++) t.failed("acct:user:bob", "10.0.0.1");
    t.succeeded("acct:user:alice");
    t.failed("acct:user:alice", "10.0.0.1");
    t.failed("acct:user:alice", "10.0.0.2");
    expect(t.refusal("acct:user:alice", "10.0.0.2")).to.equal(undefined);
    expect(t.refusal("acct:user:carol", "10.0.0.1")).to.deep.include({ reason: "address" });
  });
});

describe("unit: address keys", () => {
  it("counts IPv4 and IPv4-mapped IPv6 by address, IPv6 by its /64", () => {
    expect(addressKey("10.1.2.3")).to.equal("10.1.2.3");
    expect(addressKey("::ffff:10.1.2.3")).to.equal("10.1.2.3");
    expect(addressKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).to.equal("2001:db8:1:2::/64");
    expect(addressKey("2001:db8:1:2::5")).to.equal("2001:db8:1:2::/64");
    expect(addressKey("2001:db8::1")).to.equal("2001:db8:0:0::/64");
    expect(addressKey("::1")).to.equal("0:0:0:0::/64");
    expect(addressKey(undefined)).to.equal("unknown");
  });
});
