import { expect } from "chai";
import { CachedGrants } from "../../src/authz/cached-grants.js";

describe("authz: read decisions cached per (role, variable)", () => {
  it("keeps each role's grants apart and forgets one without touching the others", () => {
    const decisions = new CachedGrants();
    decisions.grant("a:host:one", "a:variable:x", { version: "v1", mimeType: null });
    decisions.grant("a:host:two", "a:variable:x", { version: "v1", mimeType: "text/plain" });
    expect(decisions.get("a:host:one", "a:variable:x")).to.deep.equal({ version: "v1", mimeType: null });
    expect(decisions.get("a:host:two", "a:variable:x")).to.deep.equal({ version: "v1", mimeType: "text/plain" });
    expect(decisions.get("a:host:one", "a:variable:y")).to.equal(undefined);
    decisions.forget("a:host:one", "a:variable:x");
    expect(decisions.get("a:host:one", "a:variable:x")).to.equal(undefined);
    expect(decisions.get("a:host:two", "a:variable:x")).to.not.equal(undefined);
    expect(decisions.size).to.equal(1);
  });

  it("replaces a grant in place (size unchanged) and drops everything at its limit", () => {
    const decisions = new CachedGrants();
    decisions.grant("r", "v", { version: "v1", mimeType: null });
    decisions.grant("r", "v", { version: "v2", mimeType: null });
    expect(decisions.size).to.equal(1);
    expect(decisions.get("r", "v")!.version).to.equal("v2");
    for (let i = 0; i < 100_000; i++) decisions.grant("r", `v${i}`, { version: "v1", mimeType: null });
    // The 100,000th distinct entry found the cache full: it was cleared, then that one kept.
    expect(decisions.size).to.be.at.most(100_000);
    expect(decisions.get("r", "v")).to.equal(undefined);
  });
});
