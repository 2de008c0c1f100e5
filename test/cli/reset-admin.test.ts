import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { generateDataKey } from "../../src/crypto/aead.js";
import { TestApiServer } from "../k8s/apiserver/server.js";
import { freshDatabase } from "../support/postgres.js";
import { startTestServer, type TestServer } from "../support/server.js";

/** The real `strongroom` command, run from source as a user would run the built one. */
const MAIN = join(import.meta.dirname, "../../src/cli/main.ts");
const CLEAN_ENV = {
  STRONGROOM_DATA_KEY: "",
  DATABASE_URL: "",
  STRONGROOM_DATA_DIR: "",
  STRONGROOM_DATA_KEY_SECRET: "",
  STRONGROOM_ADMIN_KEY_SECRET: "",
  KUBECONFIG: "",
};
const run = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...CLEAN_ENV, ...env },
    timeout: 60_000,
  });

async function authenticates(server: TestServer, apiKey: string): Promise<number> {
  return (await fetch(`${server.url}/authn/${server.account}/admin/authenticate`, { method: "POST", body: apiKey }))
    .status;
}

describe("strongroom account reset-admin", function () {
  this.timeout(120_000);

  it("gives admin a new key: the old one stops working, the new one authenticates", async () => {
    const env = { DATABASE_URL: await freshDatabase(), STRONGROOM_DATA_KEY: generateDataKey() };
    const created = run(["account", "create", "myorg"], env);
    expect(created.status, created.stderr).to.equal(0);
    const oldKey = /^API key for admin: (\S+)\n$/.exec(created.stdout)![1]!;
    const server = await startTestServer({
      account: "myorg",
      databaseUrl: env.DATABASE_URL,
      dataKey: env.STRONGROOM_DATA_KEY,
    });
    try {
      expect(await authenticates(server, oldKey)).to.equal(200);
      const reset = run(["account", "reset-admin", "myorg"], env);
      expect(reset.status, reset.stderr).to.equal(0);
      expect(reset.stdout).to.match(/^API key for admin: [0-9a-z]{40,56}\n$/);
      const newKey = /^API key for admin: (\S+)\n$/.exec(reset.stdout)![1]!;
      expect(newKey).to.not.equal(oldKey);
      // The running server sees the change at once: no restart.
      expect(await authenticates(server, oldKey)).to.equal(401);
      expect(await authenticates(server, newKey)).to.equal(200);
    } finally {
      await server.close();
    }
  });

  it("works beside a running server on embedded Postgres (as kubectl exec into the pod does)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strongroom-reset-embedded-"));
    const child = spawn(
      process.execPath,
      ["--import", "tsx", MAIN, "server", "--port", "0", "--host", "127.0.0.1", "--data-dir", dir],
      { env: { ...process.env, ...CLEAN_ENV } },
    );
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    try {
      const deadline = Date.now() + 90_000;
      while (!/API key for admin: \S+\n/.test(stdout) || !/"port":\d+/.test(stdout)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start: ${stdout}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const port = Number(/"port":(\d+)/.exec(stdout)![1]);
      const oldKey = /API key for admin: (\S+)\n/.exec(stdout)![1]!;
      const status = async (key: string) =>
        (await fetch(`http://127.0.0.1:${port}/authn/default/admin/authenticate`, { method: "POST", body: key }))
          .status;
      expect(await status(oldKey)).to.equal(200);
      const reset = run(["account", "reset-admin", "default"], { STRONGROOM_DATA_DIR: dir });
      expect(reset.status, reset.stderr).to.equal(0);
      const newKey = /^API key for admin: (\S+)\n$/.exec(reset.stdout)![1]!;
      expect(await status(oldKey)).to.equal(401);
      expect(await status(newKey)).to.equal(200);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits 1 with one line when the account does not exist, and 2 without a NAME", async () => {
    const env = { DATABASE_URL: await freshDatabase(), STRONGROOM_DATA_KEY: generateDataKey() };
    const missing = run(["account", "reset-admin", "nobody"], env);
    expect(missing.status).to.equal(1);
    expect(missing.stdout).to.equal("");
    const messages = missing.stderr
      .trim()
      .split("\n")
      .filter((line) => !line.startsWith("{")); // JSON lines are the log
    expect(messages).to.deep.equal(["strongroom: account 'nobody' does not exist"]);
    const usage = run(["account", "reset-admin"], env);
    expect(usage.status).to.equal(2);
    expect(usage.stderr).to.equal("strongroom: missing required argument 'name' (try --help)\n");
    expect(run(["account", "reset-admin", "--help"], {}).stdout).to.contain("--data-key-secret");
  });
});

describe("strongroom server with --admin-key-secret (the chart)", function () {
  this.timeout(120_000);

  it("writes the new admin key to the Secret and prints it nowhere", async () => {
    const api = await new TestApiServer().start();
    const dir = mkdtempSync(join(tmpdir(), "strongroom-admin-secret-"));
    const kubeconfig = join(dir, "config");
    writeFileSync(kubeconfig, api.kubeconfig());
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, "server", "--port", "0", "--host", "127.0.0.1"], {
      env: {
        ...process.env,
        ...CLEAN_ENV,
        KUBECONFIG: kubeconfig,
        DATABASE_URL: await freshDatabase(),
        STRONGROOM_DATA_KEY_SECRET: "sr-data-key",
        STRONGROOM_ADMIN_KEY_SECRET: "sr-initial-admin",
        STRONGROOM_NAMESPACE: "strongroom",
        STRONGROOM_LOG_LEVEL: "debug",
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    try {
      const deadline = Date.now() + 60_000;
      while (!stdout.includes("strongroom server listening")) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const core = new k8s.KubeConfig();
      core.loadFromString(api.kubeconfig());
      const secret = await core
        .makeApiClient(k8s.CoreV1Api)
        .readNamespacedSecret({ namespace: "strongroom", name: "sr-initial-admin" });
      const apiKey = Buffer.from(secret.data!["api-key"]!, "base64").toString();
      expect(apiKey).to.match(/^[0-9a-z]{40,56}$/);
      expect(stdout + stderr).to.not.contain(apiKey);
      expect(stdout + stderr).to.not.contain("API key for admin");
      const dataKey = Buffer.from(
        (await core.makeApiClient(k8s.CoreV1Api).readNamespacedSecret({ namespace: "strongroom", name: "sr-data-key" }))
          .data!["data-key"]!,
        "base64",
      ).toString();
      expect(stdout + stderr).to.not.contain(dataKey);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      await api.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps printing the key without it (npm start on a laptop)", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, "server", "--port", "0", "--host", "127.0.0.1"], {
      env: {
        ...process.env,
        ...CLEAN_ENV,
        DATABASE_URL: await freshDatabase(),
        STRONGROOM_DATA_KEY: generateDataKey(),
      },
    });
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    try {
      const deadline = Date.now() + 60_000;
      while (!/API key for admin: [0-9a-z]+\n/.test(stdout)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no key printed: ${stdout}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  });
});
