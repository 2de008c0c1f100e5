import { expect } from "chai";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { startTestServer, type TestServer } from "../support/server.js";

/** The README's shell blocks under one heading, in order, exactly as written. */
export function shellBlocks(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`no section '## ${heading}'`);
  const end = markdown.indexOf("\n## ", start + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe("the README's 60-second tour runs verbatim against a fresh server", function () {
  this.timeout(120_000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ account: "default" });
  });
  after(() => server.close());

  it("prints what the README says it prints", async () => {
    const blocks = shellBlocks(readFileSync("README.md", "utf8"), "A 60-second tour");
    expect(blocks).to.have.length.greaterThanOrEqual(2);
    // Asynchronously: the server answers from this very process.
    const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((ok) => {
      const child = spawn("bash", ["-euo", "pipefail", "-c", blocks.join("\n")], {
        env: { ...process.env, URL: server.url, API_KEY: server.adminKey },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      child.on("close", (status) => ok({ status, stdout, stderr }));
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const out = run.stdout;
    expect(out).to.contain('"created_roles"');
    expect(out).to.contain("default:host:app/web");
    expect(out).to.match(/^s3cr3t$/m);
    expect(JSON.parse(out.split("\n").find((line) => line.startsWith('{"default:variable'))!)).to.deep.equal({
      "default:variable:app/db/password": "s3cr3t",
      "default:variable:app/db/user": "app",
    });
    expect(out).to.match(/^app$/m);
  });
});
