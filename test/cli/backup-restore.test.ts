/**
 * The README's backup and restore procedure for embedded storage: stop the server, copy the
 * data dir, keep the data key apart; a server started on the copy with the same key serves
 * the same secrets, and with any other key refuses to start.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDataKey } from "../../src/crypto/aead.js";
import { failedStart, startCliServer } from "../support/cli-server.js";

describe("backup and restore of embedded storage", function () {
  this.timeout(180_000);
  const root = mkdtempSync(join(tmpdir(), "strongroom-backup-"));
  const live = join(root, "live");
  const restored = join(root, "restored");
  const dataKey = generateDataKey();
  chmodSync(root, 0o711); // as root, embedded Postgres runs as `postgres`, which must reach the data dirs
  after(() => rmSync(root, { recursive: true, force: true }));

  it("restores a stopped server's data dir copy with the same data key, and refuses another key", async () => {
    const first = await startCliServer(["--data-dir", live], { STRONGROOM_DATA_KEY: dataKey });
    const adminKey = (await first.waitFor(/API key for admin: (\S+)/))[1]!;
    const base = `http://127.0.0.1:${first.port}`;
    const token = async (url: string): Promise<string> =>
      `Token token="${await (await fetch(`${url}/authn/default/admin/authenticate`, { method: "POST", body: adminKey, headers: { "Accept-Encoding": "base64" } })).text()}"`;
    const auth = await token(base);
    expect(
      (
        await fetch(`${base}/policies/default/policy/root`, {
          method: "POST",
          headers: { Authorization: auth },
          body: "- !variable db/password",
        })
      ).status,
    ).to.equal(201);
    expect(
      (
        await fetch(`${base}/secrets/default/variable/db%2Fpassword`, {
          method: "POST",
          headers: { Authorization: auth },
          body: "before the backup",
        })
      ).status,
    ).to.equal(201);
    expect(await first.stop()).to.equal(0);

    // `cp -a`, as the README says: Postgres needs its files' owner and modes kept.
    expect(spawnSync("cp", ["-a", live, restored]).status).to.equal(0);

    const refused = await failedStart(["--data-dir", restored], { STRONGROOM_DATA_KEY: generateDataKey() });
    expect(refused.code).to.equal(1);
    expect(refused.stderr, refused.stderr).to.match(/data key does not match/);

    const second = await startCliServer(["--data-dir", restored], { STRONGROOM_DATA_KEY: dataKey });
    try {
      const url = `http://127.0.0.1:${second.port}`;
      const read = await fetch(`${url}/secrets/default/variable/db%2Fpassword`, {
        headers: { Authorization: await token(url) },
      });
      expect(read.status).to.equal(200);
      expect(await read.text()).to.equal("before the backup");
    } finally {
      expect(await second.stop()).to.equal(0);
    }
  });
});
