import { expect } from "chai";
import { backoffMs } from "../../src/retry/backoff.js";

describe("unit: the one backoff (capped exponential, equal jitter)", () => {
  const policy = { baseMs: 100, maxMs: 1000 };
  it("doubles per attempt up to the cap, between half and all of each nominal wait", () => {
    expect([1, 2, 3, 4, 5, 9].map((a) => backoffMs(a, policy, () => 1))).to.deep.equal([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(a, policy, () => 0))).to.deep.equal([50, 100, 200, 400, 500]);
  });
  it("spreads clients that failed together", () => {
    const waits = new Set(Array.from({ length: 100 }, () => backoffMs(4, policy)));
    expect(waits.size).to.be.above(20);
    for (const w of waits) expect(w).to.be.within(400, 800);
  });
});
