import { expect } from "chai";
import { parseClaimAliases, parseEnforcedClaims } from "../../src/authn/jwt/claim-lists.js";
import { claimAt, isValidClaimPath, joinPath } from "../../src/authn/jwt/claim-path.js";
import { JwtAuthnFailure } from "../../src/authn/jwt/failures.js";
import { checkRestrictions, type RestrictionInput } from "../../src/authn/jwt/restrictions.js";
import { parseAuthenticators } from "../../src/config.js";

/** The CONJ code a call fails with. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(JwtAuthnFailure);
    return /^CONJ\d+E/.exec((err as Error).message)![0];
  }
  throw new Error("expected a failure");
}

describe("authn-jwt claim paths", () => {
  it("accept Conjur's claim path syntax and refuse array indexes, empty segments and leading digits", () => {
    for (const ok of ["sub", "kubernetes.io/namespace", "a/b/c", "$x", "_a-b.c", "namespace_id"])
      expect(isValidClaimPath(ok), ok).to.equal(true);
    for (const bad of ["", "a[0]", "a//b", "/a", "a/", "1abc", "a b", "a/1b"])
      expect(isValidClaimPath(bad), bad).to.equal(false);
  });

  it("look a path up as a literal top-level key first, then as nested objects", () => {
    const claims = {
      "a/b": "literal",
      a: { b: "nested", c: { d: 1 } },
      "kubernetes.io": { namespace: "prod" },
      n: null,
    };
    expect(claimAt(claims, "a/b")).to.equal("literal");
    expect(claimAt(claims, "a/c/d")).to.equal(1);
    expect(claimAt(claims, "kubernetes.io/namespace")).to.equal("prod");
    expect(claimAt(claims, "a/x")).to.equal(undefined);
    expect(claimAt(claims, "n")).to.equal(undefined);
    expect(claimAt(claims, "__proto__")).to.equal(undefined);
    expect(claimAt(claims, "a/b/c")).to.equal(undefined);
  });

  it("join the host id like Ruby's File.join: duplicate slashes at the seams collapse", () => {
    expect(joinPath("host", "apps/", "/myapp")).to.equal("host/apps/myapp");
    expect(joinPath("host", "", "myapp")).to.equal("host/myapp");
    expect(joinPath("host", "some_policy", "sub_policy/host_test_from_token")).to.equal(
      "host/some_policy/sub_policy/host_test_from_token",
    );
  });
});

describe("authn-jwt enforced-claims", () => {
  it("parses a comma list, trimming items", () => {
    expect(parseEnforcedClaims("ref, sub ,kubernetes.io/namespace")).to.deep.equal([
      "ref",
      "sub",
      "kubernetes.io/namespace",
    ]);
  });

  it("refuses blank values, stray commas, duplicates, bad paths and registered claims with Conjur's codes", () => {
    expect(codeOf(() => parseEnforcedClaims("  "))).to.equal("CONJ00106E");
    expect(codeOf(() => parseEnforcedClaims(",a"))).to.equal("CONJ00107E");
    expect(codeOf(() => parseEnforcedClaims("a,"))).to.equal("CONJ00107E");
    expect(codeOf(() => parseEnforcedClaims("a,,b"))).to.equal("CONJ00107E");
    expect(codeOf(() => parseEnforcedClaims("a, ,b"))).to.equal("CONJ00107E");
    expect(codeOf(() => parseEnforcedClaims("a,b,a"))).to.equal("CONJ00108E");
    expect(codeOf(() => parseEnforcedClaims("a[0]"))).to.equal("CONJ00104E");
    for (const registered of ["iss", "exp", "nbf", "iat", "jti", "aud"])
      expect(codeOf(() => parseEnforcedClaims(`sub,${registered}`))).to.equal("CONJ00105E");
  });
});

describe("authn-jwt claim-aliases", () => {
  it("maps annotation names to claim paths", () => {
    expect([...parseClaimAliases("branch:ref, ns: kubernetes.io/namespace")]).to.deep.equal([
      ["branch", "ref"],
      ["ns", "kubernetes.io/namespace"],
    ]);
  });

  it("refuses malformed lists with Conjur's codes", () => {
    expect(codeOf(() => parseClaimAliases(""))).to.equal("CONJ00109E");
    expect(codeOf(() => parseClaimAliases("a:b,"))).to.equal("CONJ00110E");
    expect(codeOf(() => parseClaimAliases("a:b,,c:d"))).to.equal("CONJ00110E");
    expect(codeOf(() => parseClaimAliases("a"))).to.equal("CONJ00111E");
    expect(codeOf(() => parseClaimAliases("a:b:c"))).to.equal("CONJ00111E");
    expect(codeOf(() => parseClaimAliases(":b"))).to.equal("CONJ00111E");
    expect(codeOf(() => parseClaimAliases("a:b[0]"))).to.equal("CONJ00112E");
    expect(codeOf(() => parseClaimAliases("a:iss"))).to.equal("CONJ00112E");
    expect(codeOf(() => parseClaimAliases("a:b,a:c"))).to.equal("CONJ00113E");
    expect(codeOf(() => parseClaimAliases("a:b,c:b"))).to.equal("CONJ00113E");
    expect(codeOf(() => parseClaimAliases("a/x:b"))).to.equal("CONJ00114E");
  });
});

describe("authn-jwt host restrictions", () => {
  const claims = { ref: "main", sub: "repo:org/app", "kubernetes.io": { namespace: "prod" }, count: 3 };
  const check = (annotations: Record<string, string>, more: Partial<RestrictionInput> = {}): string | undefined => {
    try {
      checkRestrictions({
        serviceId: "svc",
        annotations: new Map(Object.entries(annotations)),
        claims,
        enforcedClaims: [],
        aliases: new Map(),
        ...more,
      });
      return undefined;
    } catch (err) {
      return /^CONJ\d+E/.exec((err as Error).message)![0];
    }
  };

  it("pass when every annotation of this service equals its claim, nested paths included", () => {
    expect(check({ "authn-jwt/svc/ref": "main", "authn-jwt/svc/kubernetes.io/namespace": "prod" })).to.equal(undefined);
  });

  it("ignore general annotations and other services' annotations, so a role needs one of its own", () => {
    expect(check({ "authn-jwt/ref": "other", "authn-jwt/svc2/ref": "other", "authn-jwt/svc/ref": "main" })).to.equal(
      undefined,
    );
    expect(check({ "authn-jwt/ref": "main", "authn-jwt/svc2/ref": "main" })).to.equal("CONJ00099E");
    expect(check({})).to.equal("CONJ00099E");
  });

  it("fail on a mismatch, a missing claim, an empty annotation, a non-string claim and an invalid name", () => {
    expect(check({ "authn-jwt/svc/ref": "dev" })).to.equal("CONJ00049E");
    expect(check({ "authn-jwt/svc/missing": "x" })).to.equal("CONJ00084E");
    expect(check({ "authn-jwt/svc/ref": "" })).to.equal("CONJ00100E");
    expect(check({ "authn-jwt/svc/count": "3" })).to.equal("CONJ00049E");
    expect(check({ "authn-jwt/svc/a[0]": "x" })).to.equal("CONJ00119E");
    expect(check({ "authn-jwt/svc/iss": "x" })).to.equal("CONJ00069E");
  });

  it("require every enforced claim as an annotation", () => {
    expect(check({ "authn-jwt/svc/sub": "repo:org/app" }, { enforcedClaims: ["ref"] })).to.equal("CONJ00057E");
    expect(
      check({ "authn-jwt/svc/sub": "repo:org/app", "authn-jwt/svc/ref": "main" }, { enforcedClaims: ["ref"] }),
    ).to.equal(undefined);
  });

  it("compare an aliased annotation with its claim, forbid the claim's own name, and enforce through the alias", () => {
    const aliases = new Map([["branch", "ref"]]);
    expect(check({ "authn-jwt/svc/branch": "main" }, { aliases })).to.equal(undefined);
    expect(check({ "authn-jwt/svc/branch": "dev" }, { aliases })).to.equal("CONJ00049E");
    expect(check({ "authn-jwt/svc/ref": "main" }, { aliases })).to.equal("CONJ00069E");
    expect(check({ "authn-jwt/svc/sub": "repo:org/app" }, { aliases, enforcedClaims: ["ref"] })).to.equal("CONJ00057E");
    expect(
      check(
        { "authn-jwt/svc/sub": "repo:org/app", "authn-jwt/svc/branch": "main" },
        { aliases, enforcedClaims: ["ref"] },
      ),
    ).to.equal(undefined);
  });
});

describe("--authenticators", () => {
  it("is Conjur's list: comma-separated, trimmed, de-duplicated, authn when empty", () => {
    expect(parseAuthenticators(undefined)).to.deep.equal(["authn"]);
    expect(parseAuthenticators(" , ")).to.deep.equal(["authn"]);
    expect(parseAuthenticators("authn, authn-jwt/k8s,authn-jwt/k8s")).to.deep.equal(["authn", "authn-jwt/k8s"]);
  });

  it("refuses names that are not authenticators", () => {
    expect(() => parseAuthenticators("authn,jwt")).to.throw(/not an authenticator name/);
    expect(() => parseAuthenticators("authn-jwt/a.b")).to.throw(/not an authenticator name/);
  });
});
