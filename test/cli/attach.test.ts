import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDataKey } from "../../src/crypto/aead.js";
import { CLI, startCliServer } from "../support/cli-server.js";

/**
 * `npm start` on a laptop, then the one-shot commands beside it: on embedded storage they use
 * the running server's PostgreSQL (as `account reset-admin` does) instead of refusing with
 * "data dir is in use", so the README's account creation and rotation hold as written.
 */
describe("commands beside a server running on the same --data-dir (embedded Postgres)", function () {
  this.timeout(240_000);
  const dir = mkdtempSync(join(tmpdir(), "strongroom-attach-"));
  const cli = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [CLI, ...args, "--data-dir", dir], {
      encoding: "utf8",
      timeout: 120_000,
      env: {
        ...process.env,
        STRONGROOM_DATA_KEY: "",
        STRONGROOM_PREVIOUS_DATA_KEYS: "",
        DATABASE_URL: "",
        STRONGROOM_LOG_LEVEL: "warn",
        ...env,
      },
    });
  const authenticates = async (port: number, account: string, key: string): Promise<number> =>
    (await fetch(`http://127.0.0.1:${port}/authn/${account}/admin/authenticate`, { method: "POST", body: key })).status;
  let adminKey = "";

  after(() => rmSync(dir, { recursive: true, force: true }));

  it("account create prints the new account's key line while the server serves, and exits 1 when it exists", async () => {
    const server = await startCliServer(["--data-dir", dir]);
    try {
      adminKey = (await server.waitFor(/API key for admin: (\S+)/))[1]!;
      const created = cli(["account", "create", "other"]);
      expect(created.status, created.stderr).to.equal(0);
      expect(created.stdout).to.match(/^API key for admin: [0-9a-z]{40,56}\n$/);
      const otherKey = /^API key for admin: (\S+)\n$/.exec(created.stdout)![1]!;
      expect(await authenticates(server.port, "other", otherKey)).to.equal(200);
      const again = cli(["account", "create", "other"]);
      expect(again.status).to.equal(1);
      const messages = again.stderr.split("\n").filter((line) => line !== "" && !line.startsWith("{")); // JSON lines are the log
      expect(messages).to.deep.equal(["strongroom: account 'other' already exists"]);
    } finally {
      expect(await server.stop()).to.equal(0);
    }
  });

  it("data-key rotate re-encrypts while the server keeps serving, and the data dir starts plainly afterwards", async () => {
    const oldKey = readFileSync(join(dir, "data-key"), "utf8").trim();
    const newKey = generateDataKey();
    // README step 1: the server runs with the new key current and the old one decrypt-only.
    const server = await startCliServer(["--data-dir", dir], {
      STRONGROOM_DATA_KEY: newKey,
      STRONGROOM_PREVIOUS_DATA_KEYS: oldKey,
    });
    try {
      expect(await authenticates(server.port, "default", adminKey)).to.equal(200);
      const rotated = cli(["data-key", "rotate"], {
        STRONGROOM_DATA_KEY: newKey,
        STRONGROOM_PREVIOUS_DATA_KEYS: oldKey,
      });
      expect(rotated.status, rotated.stderr).to.equal(0);
      expect(rotated.stdout).to.contain("Every encrypted value is under data key version");
      expect(await authenticates(server.port, "default", adminKey)).to.equal(200);
    } finally {
      expect(await server.stop()).to.equal(0);
    }
    expect(readFileSync(join(dir, "data-key"), "utf8").trim()).to.equal(newKey);
    const plain = await startCliServer(["--data-dir", dir]);
    try {
      expect(await authenticates(plain.port, "default", adminKey)).to.equal(200);
    } finally {
      expect(await plain.stop()).to.equal(0);
    }
  });
});
