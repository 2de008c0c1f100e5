/**
 * Seeded fuzzing of every route: paths, queries, headers, bodies, forged tokens and YAML.
 * Asserts what an attacker must never get: a 5xx, a request that hangs, or unbounded memory.
 * Reproduce a failure with FUZZ_SEED=<seed> (and FUZZ_CASES=<n>) npm run test:file -- test/api/fuzz.test.ts.
 */
import { expect } from "chai";
import { Client } from "../support/client.js";
import { forgedToken, generateRequest, headerSafe, rng, type FuzzCase } from "../support/fuzz-gen.js";
import { rawRequest } from "../support/raw-request.js";
import { startTestServer, type TestServer } from "../support/server.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const CASES = Number(process.env.FUZZ_CASES ?? 3000);
const TOKENS = Number(process.env.FUZZ_TOKENS ?? 2000);
const CONCURRENCY = 8;
const ACCOUNT = "fuzz";

describe(`fuzz: every route with hostile input (seed ${SEED})`, function () {
  this.timeout(300_000);
  let server: TestServer;
  let tokens: { admin: string; host: string };

  before(async () => {
    server = await startTestServer({ account: ACCOUNT });
    const admin = await new Client(server.url, ACCOUNT).login("admin", server.adminKey);
    const res = await admin.loadPolicy(
      "POST",
      "root",
      "- !host app\n- !variable db/password\n- !permit { role: !host app, privileges: [read, execute], resource: !variable db/password }\n",
    );
    await admin.setSecret("db/password", "fuzz-secret-value");
    const host = await new Client(server.url, ACCOUNT).login(
      "host/app",
      res.json().created_roles[`${ACCOUNT}:host:app`].api_key,
    );
    tokens = { admin: admin.token!, host: host.token! };
  });
  after(() => server.close());

  async function drive(cases: FuzzCase[]): Promise<{ statuses: Map<number, number>; failures: string[] }> {
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cases.length) {
        const index = next++;
        const c = cases[index]!;
        try {
          const res = await rawRequest(server.url, c.method, c.path, {
            headers: c.headers,
            ...(c.body !== undefined ? { body: c.body } : {}),
            timeoutMs: 15_000,
          });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status >= 500)
            failures.push(
              `#${index} ${c.method} ${c.path.slice(0, 200)} → ${res.status} ${res.body.toString().slice(0, 200)}`,
            );
        } catch (err) {
          // Node itself refuses some requests at the socket (431, 400 on a broken request line); a hang is a failure.
          const message = (err as Error).message;
          if (/within/.test(message)) failures.push(`#${index} ${c.method} ${c.path.slice(0, 200)} → ${message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return { statuses, failures };
  }

  it(`answers ${CASES} hostile requests over every route without a 5xx, a hang or unbounded memory`, async () => {
    const r = rng(SEED);
    const cases = Array.from({ length: CASES }, () => generateRequest(r, ACCOUNT, tokens));
    const rssBefore = process.memoryUsage().rss;
    const { statuses, failures } = await drive(cases);
    const grownMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    if (process.env.FUZZ_VERBOSE)
      console.log("statuses", Object.fromEntries(statuses), "RSS growth MiB", grownMb.toFixed(0));
    expect(failures, failures.slice(0, 10).join("\n")).to.deep.equal([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).to.be.above(CASES * 0.9);
    expect(grownMb, "RSS growth in MiB").to.be.below(512);
    const health = await rawRequest(server.url, "GET", "/health", { timeoutMs: 2000 });
    expect(health.status).to.equal(200);
  });

  it(`answers ${TOKENS} forged tokens with 401, never a 5xx`, async () => {
    const r = rng(SEED + 1);
    const cases = Array.from({ length: TOKENS }, (): FuzzCase => ({
      method: "GET",
      path: `/resources/${ACCOUNT}`,
      headers: { Authorization: `Token token="${headerSafe(forgedToken(r))}"` },
    }));
    const { statuses, failures } = await drive(cases);
    expect(failures, failures.slice(0, 10).join("\n")).to.deep.equal([]);
    expect([...statuses.keys()]).to.deep.equal([401]);
  });

  it("still serves the right value afterwards", async () => {
    const res = await rawRequest(server.url, "GET", `/secrets/${ACCOUNT}/variable/db%2Fpassword`, {
      headers: { Authorization: `Token token="${tokens.host}"` },
    });
    expect(res.status).to.equal(200);
    expect(res.body.toString()).to.equal("fuzz-secret-value");
  });
});
