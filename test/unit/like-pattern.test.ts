import { expect } from "chai";
import { escapeLike } from "../../src/storage/like-pattern.js";

describe("unit: escapeLike (client values in LIKE patterns match literally)", () => {
  it("escapes %, _ and the backslash, and nothing else", () => {
    expect(escapeLike("a%b_c\\d")).to.equal("a\\%b\\_c\\\\d");
    expect(escapeLike("prod/db-1.password")).to.equal("prod/db-1.password");
  });
});
