import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDataKey } from "../../src/crypto/aead.js";
import { freshDatabase } from "../support/postgres.js";

const BIN = join(import.meta.dirname, "../../dist/cli/main.js");
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, STRONGROOM_DATA_KEY: "", DATABASE_URL: "", ...env },
    timeout: 60_000,
  });

describe("the strongroom command", () => {
  it("builds every bin package.json names as an executable file (npx in a fresh checkout execs it directly)", () => {
    const { bin } = JSON.parse(readFileSync("package.json", "utf8")) as { bin: Record<string, string> };
    for (const [name, file] of Object.entries(bin)) {
      expect(statSync(file).mode & 0o111, `${name} → ${file}`).to.equal(0o111);
    }
  });

  it("answers --help with exit 0 for every command and subcommand, on stdout", function () {
    this.timeout(180_000); // a cold start of node per command: slow on a loaded machine
    const commands = [
      [],
      ["server"],
      ["account"],
      ["account", "create"],
      ["account", "reset-admin"],
      ["data-key"],
      ["data-key", "generate"],
      ["data-key", "rotate"],
      ["policy"],
      ["policy", "load"],
      ["policy", "update"],
      ["policy", "replace"],
      ["secret"],
      ["secret", "set"],
      ["secret", "get"],
      ["agent"],
    ];
    for (const command of commands) {
      const res = run([...command, "--help"]);
      expect(res.status, command.join(" ")).to.equal(0);
      expect(res.stdout, command.join(" ")).to.match(new RegExp(`^Usage: strongroom ${command.join(" ")}`));
    }
    for (const args of [["help"], ["help", "account"]]) expect(run(args).status, args.join(" ")).to.equal(0);
    expect(run(["account", "--help"]).stdout).to.contain("reset-admin");
  });

  it("aligns help: every flag, then its text after at least two spaces, all texts in one column", () => {
    const help = run(["server", "--help"]).stdout;
    const lines = help.split("\n").filter((line) => /^ {2}(-h, )?--/.test(line));
    expect(lines.length).to.be.above(40);
    const columns = new Set(lines.map((line) => /^ {2}\S.*?\S  +(?=\S)/.exec(line)?.[0].length));
    expect([...columns]).to.have.length(1);
    for (const flag of ["--database-url", "--max-watchers", "--previous-data-keys", "--data-dir"])
      expect(help).to.contain(flag);
    expect(help).to.contain("env: STRONGROOM_PORT");
    expect(help).to.contain("STRONGROOM_DATA_KEY");
  });

  it("requires a command's arguments: one line on stderr, exit 2", function () {
    this.timeout(120_000);
    for (const [args, message] of [
      [["account", "create"], "strongroom: missing required argument 'name' (try --help)"],
      [["account", "reset-admin"], "strongroom: missing required argument 'name' (try --help)"],
      [["policy", "load"], "strongroom: missing required argument 'file' (try --help)"],
      [["secret", "get"], "strongroom: missing required argument 'id' (try --help)"],
    ] as const) {
      const res = run([...args]);
      expect(res.status, args.join(" ")).to.equal(2);
      expect(res.stderr, args.join(" ")).to.equal(message + "\n");
      expect(res.stdout).to.equal("");
    }
    // A group without its subcommand shows its help on stderr, exit 2.
    for (const args of [[], ["account"], ["data-key"]]) {
      const res = run(args);
      expect(res.status, args.join(" ")).to.equal(2);
      expect(res.stderr).to.match(/^Usage: strongroom/);
    }
  });

  it("under a Node older than 24 says so in one line, before loading anything that needs 24", function () {
    this.timeout(60_000);
    const old = ["/usr/bin/node", "/bin/node", "/usr/local/bin/node"].find((path) => {
      const v = spawnSync(path, ["--version"], { encoding: "utf8" });
      return v.status === 0 && Number(/^v(\d+)/.exec(v.stdout)?.[1]) < 24;
    });
    if (!old) this.skip();
    const version = spawnSync(old, ["-p", "process.versions.node"], { encoding: "utf8" }).stdout.trim();
    for (const args of [["server"], ["--help"], ["account", "create", "x"]]) {
      const res = spawnSync(old, [BIN, ...args], { encoding: "utf8", timeout: 30_000 });
      expect(res.status, args.join(" ")).to.equal(1);
      expect(res.stderr).to.equal(
        `strongroom: Strongroom needs Node 24 or newer (found ${version}); use npm start or npx strongroom\n`,
      );
      expect(res.stdout).to.equal("");
    }
  });

  it("as root, with the data dir in a folder the postgres user cannot enter, says what is wrong and the fix in one line", function () {
    if (process.getuid?.() !== 0) this.skip();
    this.timeout(60_000);
    const locked = mkdtempSync(join(tmpdir(), "strongroom-0700-")); // mode 0700, as mkdtemp makes it
    try {
      const res = run(["server", "--port", "0", "--data-dir", join(locked, "data")]);
      expect(res.status).to.equal(1);
      expect(res.stderr).to.equal(
        `strongroom: embedded PostgreSQL runs as the 'postgres' user when strongroom runs as root, and that user cannot enter ${locked} (mode 0700) on the way to the data dir ${join(locked, "data")}; fix: chmod o+x ${locked}, or use a --data-dir outside it, or use an external --database-url\n`,
      );
    } finally {
      rmSync(locked, { recursive: true, force: true });
    }
  });

  it("agent --once: a missing token file is said in one line at once, not as an unreachable server", function () {
    this.timeout(60_000);
    const dir = mkdtempSync(join(tmpdir(), "strongroom-agent-"));
    try {
      const res = run([
        "agent",
        "--once",
        "--url",
        "http://127.0.0.1:1",
        "--dir",
        dir,
        "--files",
        '{"a":{"secret":"x"}}',
        "--token-file",
        join(dir, "no-token"),
      ]);
      expect(res.status).to.equal(1);
      expect(res.stderr.split("\n").filter((line) => line !== "" && !line.startsWith("{"))).to.deep.equal([
        `strongroom agent: cannot read the service-account token file ${join(dir, "no-token")} (ENOENT); mount the projected token there or set --token-file (STRONGROOM_TOKEN_FILE)`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports a bad flag or setting on one line with exit 2", function () {
    this.timeout(60_000); // six cold starts of node: slow on a loaded machine
    for (const [args, pattern] of [
      [["server", "--bogus"], /unknown option '--bogus'/i],
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
    expect(first.stdout).to.match(/^API key for admin: [0-9a-z]{40,56}\n$/);
    const again = run(["account", "create", "myorg"], env);
    expect(again.status).to.equal(1);
    expect(again.stderr).to.contain("already exists");
  });

  it("refuses to start with a data key that does not match the database", async () => {
    const databaseUrl = await freshDatabase();
    expect(
      run(["account", "create", "x"], { DATABASE_URL: databaseUrl, STRONGROOM_DATA_KEY: generateDataKey() }).status,
    ).to.equal(0);
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
      for (let i = 0; i < 100 && !/API key for admin/.test(first.stdout()); i++)
        await new Promise((ok) => setTimeout(ok, 50));
      const key = /API key for admin: (\S+)/.exec(first.stdout())?.[1];
      expect(key).to.match(/^[0-9a-z]{40,56}$/);
      const auth = await fetch(`http://127.0.0.1:${first.port}/authn/default/admin/authenticate`, {
        method: "POST",
        body: key!,
      });
      expect(auth.status).to.equal(200);
      expect(await first.stop()).to.equal(0);
      const second = await start();
      await new Promise((ok) => setTimeout(ok, 500));
      expect(second.stdout()).to.not.contain("API key for admin");
      const again = await fetch(`http://127.0.0.1:${second.port}/authn/default/admin/authenticate`, {
        method: "POST",
        body: key!,
      });
      expect(again.status).to.equal(200);
      expect(await second.stop()).to.equal(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
