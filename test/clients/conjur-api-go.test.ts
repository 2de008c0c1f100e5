/**
 * conjur-api-go's own test suite (the module zip at a pinned version, its tests compiled once by
 * harness/clients/build.sh), pointed at Strongroom by the environment its CI gives it against Conjur
 * OSS (docker-compose.yml, bin/test.sh): CONJUR_APPLIANCE_URL, CONJUR_ACCOUNT=conjur, admin's API key,
 * and a JWT + JWKS from a "jwt-server" issuer (bin/utils.sh init_jwt_server). Cloud authenticators are
 * off (TEST_AWS/AZURE/GCP/CERT=false), as in its CI. The table records the count that passes; the
 * check fails when fewer pass than KNOWN_PASSING (a regression), and lists every failing test.
 */
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../support/server.js";
import { built, CACHE, jwtIssuer, recordExternal, run, setNote, tempDir, VERSIONS } from "./support.js";

const VERSION = VERSIONS["conjur-api-go-tests"]!;
const CLIENT = "conjur-api-go's own tests";
const testBinary = built(`conjur-api-go-${VERSION}`, "conjurapi.test");
/** Top-level tests passing on the last green run; fewer is a regression in Strongroom. */
const KNOWN_PASSING = Number(process.env.CONJUR_API_GO_KNOWN_PASSING ?? 210);

interface GoResult {
  name: string;
  outcome: "PASS" | "FAIL" | "SKIP";
}

/** Top-level results from `-test.v` output ("--- PASS: TestX (0.01s)" at column 0). */
function parseGoTest(output: string): GoResult[] {
  const results: GoResult[] = [];
  for (const line of output.split("\n")) {
    const m = /^--- (PASS|FAIL|SKIP): (\S+)/.exec(line);
    if (m) results.push({ outcome: m[1] as GoResult["outcome"], name: m[2]! });
  }
  return results;
}

describe(`${CLIENT} ${VERSION} (real client)`, function () {
  let server: TestServer;
  setNote(CLIENT, VERSION, "not run"); // its row, in file order

  before(async function () {
    if (testBinary.missing) {
      recordExternal(CLIENT, VERSION, 0, 0, testBinary.missing);
      this.skip();
    }
    server = await startTestServer({
      account: "conjur",
      env: { STRONGROOM_AUTHENTICATORS: "authn" } /* as its CI: CONJUR_AUTHENTICATORS unset, enabled by PATCH */,
    });
  });
  after(async () => {
    await server?.close();
  });

  it("runs go's test binary against Strongroom and records how many of its tests pass", async function () {
    this.timeout(900_000);
    const issuer = await jwtIssuer("jwt-server-key");
    const jwt = await issuer.mint({
      iss: "jwt-server",
      aud: "conjur",
      sub: "test-workload",
      email: "workload@example.com",
    });
    const home = tempDir("api-go");
    const r = await run(testBinary.path, ["-test.v", "-test.count=1", "-test.timeout=12m"], {
      cwd: join(CACHE, `conjur-api-go-${VERSION}`, "src", "conjurapi"),
      timeoutMs: 840_000,
      env: {
        HOME: home,
        CONJUR_APPLIANCE_URL: server.url,
        CONJUR_ACCOUNT: "conjur",
        CONJUR_AUTHN_LOGIN: "admin",
        CONJUR_AUTHN_API_KEY: server.adminKey,
        JWT: jwt,
        PUBLIC_KEYS: JSON.stringify(issuer.jwks),
        TEST_AWS: "false",
        TEST_AZURE: "false",
        TEST_GCP: "false",
        TEST_CERT: "false",
      },
    });
    writeFileSync(join(CACHE, `conjur-api-go-${VERSION}`, "last-run.txt"), r.stdout + r.stderr);
    const results = parseGoTest(r.stdout);
    const passed = results.filter((t) => t.outcome === "PASS").length;
    const failed = results.filter((t) => t.outcome === "FAIL").map((t) => t.name);
    const skipped = results.filter((t) => t.outcome === "SKIP").length;
    recordExternal(
      CLIENT,
      VERSION,
      passed,
      passed + failed.length,
      `${skipped} skipped (cloud/cert authenticators off, as in its CI)`,
      failed,
    );
    expect(results.length, `no test results parsed; exit ${r.code}\n${r.out.slice(-3000)}`).to.be.above(0);
    expect(passed, `failing: ${failed.join(", ")}`).to.be.at.least(KNOWN_PASSING);
  });
});
