import { expect } from "chai";
import { RoleClosures } from "../../src/authz/closure-cache.js";
import type { Queryable } from "../../src/storage/database.js";

/** A database whose authorization version and closures the test sets; it counts closure queries. */
function fakeDatabase(state: { version: string; roles: string[] }) {
  const db = {
    closureQueries: 0,
    query: async () => {
      db.closureQueries++;
      return { rows: [{ roles: [...state.roles], version: state.version }] };
    },
  };
  return db;
}

describe("authz: role closures cached per role, checked against the authorization version", () => {
  it("computes a closure once and reuses it while the version the query sees is unchanged", async () => {
    const state = { version: "v1", roles: ["a:host:h", "a:group:g"] };
    const db = fakeDatabase(state);
    const closures = new RoleClosures();
    const seen: string[][] = [];
    for (let i = 0; i < 3; i++) {
      await closures.withClosure(db as unknown as Queryable, "a:host:h", async (roles) => {
        seen.push(roles);
        return [{ authorization_version: state.version }];
      });
    }
    expect(db.closureQueries).to.equal(1);
    expect(seen).to.deep.equal([state.roles, state.roles, state.roles]);
  });

  it("recomputes and re-runs the query when the query saw another version, and answers from the fresh closure", async () => {
    const state = { version: "v1", roles: ["a:host:h", "a:group:g"] };
    const db = fakeDatabase(state);
    const closures = new RoleClosures();
    await closures.withClosure(db as unknown as Queryable, "a:host:h", async () => [{ authorization_version: "v1" }]);
    // The membership is revoked: new version, smaller closure.
    state.version = "v2";
    state.roles = ["a:host:h"];
    const used: string[][] = [];
    const rows = await closures.withClosure(db as unknown as Queryable, "a:host:h", async (roles) => {
      used.push(roles);
      return [{ authorization_version: state.version, allowed: roles.includes("a:group:g") }];
    });
    expect(used).to.deep.equal([["a:host:h", "a:group:g"], ["a:host:h"]]);
    expect(rows[0]!.allowed).to.equal(false);
    expect(db.closureQueries).to.equal(2);
  });

  it("needs no check when the query returns no rows", async () => {
    const db = fakeDatabase({ version: "v1", roles: ["a:host:h"] });
    const closures = new RoleClosures();
    await closures.withClosure(db as unknown as Queryable, "a:host:h", async () => []);
    await closures.withClosure(db as unknown as Queryable, "a:host:h", async () => []);
    expect(db.closureQueries).to.equal(1);
  });

  it("answers 503 when the version changes under every attempt", async () => {
    let n = 0;
    const db = { query: async () => ({ rows: [{ roles: ["a:host:h"], version: `v${++n}` }] }) };
    const closures = new RoleClosures();
    let status: number | undefined;
    try {
      await closures.withClosure(db as unknown as Queryable, "a:host:h", async () => [
        { authorization_version: "never the same" },
      ]);
    } catch (err) {
      status = (err as { status?: number }).status;
    }
    expect(status).to.equal(503);
    expect(n).to.equal(4);
  });

  it("keeps each role's closure apart", async () => {
    const closures = new RoleClosures();
    const db = { query: async (q: { values: string[] }) => ({ rows: [{ roles: [q.values[0]!], version: "v1" }] }) };
    const a = await closures.withClosure(db as unknown as Queryable, "a:host:one", async (roles) => [
      { authorization_version: "v1", roles },
    ]);
    const b = await closures.withClosure(db as unknown as Queryable, "a:host:two", async (roles) => [
      { authorization_version: "v1", roles },
    ]);
    expect(a[0]!.roles).to.deep.equal(["a:host:one"]);
    expect(b[0]!.roles).to.deep.equal(["a:host:two"]);
  });
});
