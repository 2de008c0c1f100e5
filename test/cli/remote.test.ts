import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../support/server.js";

const BIN = join(import.meta.dirname, "../../dist/cli/main.js");

describe("client commands against a running server: policy load, secret set/get", () => {
  let server: TestServer;
  let dir: string;
  // Asynchronous: the server answers from this same process.
  const run = (args: string[], env: Record<string, string> = {}, stdin?: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [BIN, ...args],
        {
          encoding: "utf8",
          env: {
            ...process.env,
            STRONGROOM_URL: server.url,
            STRONGROOM_ACCOUNT: "cli",
            STRONGROOM_API_KEY: server.adminKey,
            ...env,
          },
        },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin!.end(stdin ?? "");
    });

  before(async () => {
    server = await startTestServer({ account: "cli" });
    dir = mkdtempSync(join(tmpdir(), "strongroom-remote-"));
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("loads a policy from a file and prints the created roles", async () => {
    writeFileSync(join(dir, "p.yml"), "- !variable db/password\n- !host app\n");
    const res = await run(["policy", "load", join(dir, "p.yml")]);
    expect(res.code, res.stderr).to.equal(0);
    expect(JSON.parse(res.stdout).created_roles).to.have.key("cli:host:app");
  });

  it("sets a secret from an argument or stdin and gets it back byte for byte", async () => {
    expect((await run(["secret", "set", "db/password", "from-arg"])).code).to.equal(0);
    expect((await run(["secret", "get", "db/password"])).stdout).to.equal("from-arg");
    expect((await run(["secret", "set", "db/password"], {}, "line one\nline two\n")).code).to.equal(0);
    expect((await run(["secret", "get", "db/password"])).stdout).to.equal("line one\nline two\n");
    expect((await run(["secret", "get", "db/password", "--version", "1"])).stdout).to.equal("from-arg");
  });

  it("reports server errors on one line with exit 1, and missing settings with exit 2", async () => {
    const missing = await run(["secret", "get", "no/such"]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain("404 CONJ00076E Variable cli:variable:no/such is empty or not found.");
    const badKey = await run(["secret", "get", "db/password"], { STRONGROOM_API_KEY: "wrong" });
    expect(badKey.code).to.equal(1);
    expect(badKey.stderr).to.contain("401");
    const noKey = await run(["secret", "get", "db/password"], { STRONGROOM_API_KEY: "" });
    expect(noKey.code).to.equal(2);
    expect(noKey.stderr).to.contain("STRONGROOM_API_KEY is required");
    expect((await run(["policy", "load"])).code).to.equal(2);
    expect((await run(["secret", "--help"])).code).to.equal(0);
  });
});
