import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDataKey } from "../../src/crypto/aead.js";
import { stageKeyFileRotation } from "../../src/crypto/data-key.js";
import { CLI, startCliServer } from "../support/cli-server.js";

/** A laptop: embedded Postgres, a generated key file, no key in the environment. */
describe("data-key rotate on embedded storage leaves the installation startable as it started", function () {
  this.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), "strongroom-keyfile-"));
  let adminKey = "";

  const plainStart = () => startCliServer(["--data-dir", dir]);
  async function authenticates(port: number): Promise<boolean> {
    const res = await fetch(`http://127.0.0.1:${port}/authn/default/admin/authenticate`, {
      method: "POST",
      body: adminKey,
    });
    return res.status === 200;
  }

  before(async () => {
    const first = await plainStart();
    adminKey = (await first.waitFor(/API key for admin: (\S+)/))[1]!;
    expect(await first.stop()).to.equal(0);
  });

  it("still starts with a plain `server --data-dir` when a rotation was interrupted after the key file changed", async () => {
    const staged = await stageKeyFileRotation(dir, generateDataKey());
    expect(staged!.previous).to.have.length(1);
    const server = await plainStart();
    expect(await authenticates(server.port)).to.equal(true);
    expect(await server.stop()).to.equal(0);
  });

  it("rotates with only the new key given, then a plain start serves the same data and the old key is gone", async () => {
    const newKey = generateDataKey();
    const rotated = spawnSync(process.execPath, [CLI, "data-key", "rotate", "--data-dir", dir], {
      env: {
        ...process.env,
        STRONGROOM_DATA_KEY: newKey,
        STRONGROOM_PREVIOUS_DATA_KEYS: "",
        DATABASE_URL: "",
        STRONGROOM_LOG_LEVEL: "warn",
      },
      encoding: "utf8",
    });
    expect(rotated.status, rotated.stderr).to.equal(0);
    expect(rotated.stdout).to.contain("Every encrypted value is under data key version");
    expect(rotated.stdout).to.contain("now holds the new key");
    expect(readFileSync(join(dir, "data-key"), "utf8").trim()).to.equal(newKey);
    expect(existsSync(join(dir, "data-key.previous")), "the old key is not kept once every value moved").to.equal(
      false,
    );
    const server = await plainStart();
    expect(await authenticates(server.port)).to.equal(true);
    expect(await server.stop()).to.equal(0);
  });
});
