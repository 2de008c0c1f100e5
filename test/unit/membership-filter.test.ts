import { expect } from "chai";
import { filterGrants, pageGrants } from "../../src/authz/membership-filter.js";

const grant = (role: string, member: string) => ({ role, member, admin_option: false });
const members = [
  grant("a:group:g", "a:group:devs"),
  grant("a:group:g", "a:host:ci/runner"),
  grant("a:group:g", "a:user:alice"),
  grant("a:group:g", "a:host:web"),
];

describe("filterGrants and pageGrants (Conjur's MembershipSearch)", () => {
  it("keeps the grants whose other side has one of the kinds", () => {
    expect(filterGrants(members, "member", { kinds: ["host"] }).map((g) => g.member)).to.deep.equal([
      "a:host:ci/runner",
      "a:host:web",
    ]);
    expect(filterGrants(members, "member", { kinds: ["group", "user"] })).to.have.length(2);
    expect(filterGrants(members, "role", { kinds: ["host"] }), "?memberships filters on the role side").to.deep.equal(
      [],
    );
  });

  it("matches search as a case-insensitive substring of the other side's id", () => {
    expect(filterGrants(members, "member", { search: "RUN" }).map((g) => g.member)).to.deep.equal(["a:host:ci/runner"]);
    expect(filterGrants(members, "member", {})).to.have.length(4);
  });

  it("pages only when a limit or offset is given, with limit 10 by default", () => {
    const many = Array.from({ length: 25 }, (_, i) => i);
    expect(pageGrants(many, undefined, undefined)).to.have.length(25);
    expect(pageGrants(many, undefined, 5)).to.deep.equal(many.slice(5, 15));
    expect(pageGrants(many, 3, 20)).to.deep.equal([20, 21, 22]);
  });
});
