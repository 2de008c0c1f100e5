import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDataKey } from "../../src/crypto/aead.js";
import { freshDatabase } from "../support/postgres.js";

const BIN = join(import.meta.dirname, "../../dist/cli/main.js");
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env: { ...process.env, STRONGROOM_DATA_KEY: "", DATABASE_URL: "", ...env }, timeout: 60_000 });

describe("the strongroom command", () => {
  it("prints help for every command with exit 0", () => {
    for (const args of [["--help"], ["server", "--help"], ["account", "create", "--help"], ["data-key", "generate", "--help"]]) {
      const res = run(args);
      expect(res.status, args.join(" ")).to.equal(0);
      expect(res.stdout).to.match(/Usage: strongroom/);
    }
    expect(run(["server", "--help"]).stdout).to.contain("--database-url");
  });

  it("reports a bad flag or setting on one line with exit 2", function () {
    this.timeout(60_000); // six cold starts of node: slow on a loaded machine
    for (const [args, pattern] of [
      [["server", "--bogus"], /Unknown option '--bogus'/],
      [["server", "--port", "99999"], /--port must be an integer from 0 to 65535/],
      [["server", "--webhook-port", "8443"], /--webhook-port needs --tls-cert/],
      [["server", "--database-url", "postgres://x/y"], /STRONGROOM_DATA_KEY is required/],
      [["nonsense"], /unknown command/],
    ] as const) {
      const res = run([...args]);
      expect(res.status, args.join(" ")).to.equal(2);
      expect(res.stderr.trim().split("\n"), args.join(" ")).to.have.length(1);
      expect(res.stderr).to.match(pattern);
    }
    expect(run(["server"], { STRONGROOM_DATA_KEY: "c2hvcnQ=" }).status).to.equal(2);
  });

  it("generates a data key: base64 of 32 bytes", () => {
    const res = run(["data-key", "generate"]);
    expect(res.status).to.equal(0);
    expect(Buffer.from(res.stdout.trim(), "base64")).to.have.length(32);
  });

  it("creates an account, printing its admin key, and exits 1 if it exists", async () => {
    const env = { DATABASE_URL: await freshDatabase(), STRONGROOM_DATA_KEY: generateDataKey() };
    const first = run(["account", "create", "myorg"], env);
    expect(first.status, first.stderr).to.equal(0);
    expect(first.stdout).to.match(/^API key for admin: [0-9a-z]{50,56}\n$/);
    const again = run(["account", "create", "myorg"], env);
    expect(again.status).to.equal(1);
    expect(again.stderr).to.contain("already exists");
  });

  it("refuses to start with a data key that does not match the database", async () => {
    const databaseUrl = await freshDatabase();
    expect(run(["account", "create", "x"], { DATABASE_URL: databaseUrl, STRONGROOM_DATA_KEY: generateDataKey() }).status).to.equal(0);
    const res = run(["server", "--port", "0"], { DATABASE_URL: databaseUrl, STRONGROOM_DATA_KEY: generateDataKey() });
    expect(res.status).to.equal(1);
    expect(res.stderr).to.contain("the data key does not match the encrypted data in this database");
  });

  it("starts on embedded Postgres, prints the admin key once, serves, and stops cleanly on SIGTERM", async function () {
    this.timeout(120_000);
    const dir = mkdtempSync(join(tmpdir(), "strongroom-cli-"));
    const start = async (): Promise<{ stdout: () => string; port: number; stop: () => Promise<number | null> }> => {
      const child = spawn(process.execPath, [BIN, "server", "--port", "0", "--host", "127.0.0.1", "--data-dir", dir], {
        env: { ...process.env, STRONGROOM_DATA_KEY: "", DATABASE_URL: "" },
      });
      let stdout = "";
      const port = await new Promise<number>((ok, fail) => {
        child.once("exit", (code) => fail(new Error(`exited ${code}: ${stdout}`)));
        child.stdout.on("data", (c: Buffer) => {
          stdout += c.toString();
          const m = /"port":(\d+)[^\n]*strongroom server listening/.exec(stdout);
          if (m) ok(Number(m[1]));
        });
      });
      const stop = (): Promise<number | null> =>
        new Promise((ok) => {
          child.removeAllListeners("exit");
          child.once("exit", (code) => ok(code));
          child.kill("SIGTERM");
        });
      return { stdout: () => stdout, port, stop };
    };
    try {
      const first = await start();
      // The key line follows the listening line: wait for it.
      for (let i = 0; i < 100 && !/API key for admin/.test(first.stdout()); i++) await new Promise((ok) => setTimeout(ok, 50));
      const key = /API key for admin: (\S+)/.exec(first.stdout())?.[1];
      expect(key).to.match(/^[0-9a-z]{50,56}$/);
      const auth = await fetch(`http://127.0.0.1:${first.port}/authn/default/admin/authenticate`, { method: "POST", body: key! });
      expect(auth.status).to.equal(200);
      expect(await first.stop()).to.equal(0);
      const second = await start();
      await new Promise((ok) => setTimeout(ok, 500));
      expect(second.stdout()).to.not.contain("API key for admin");
      const again = await fetch(`http://127.0.0.1:${second.port}/authn/default/admin/authenticate`, { method: "POST", body: key! });
      expect(again.status).to.equal(200);
      expect(await second.stop()).to.equal(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
