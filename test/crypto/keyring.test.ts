import { expect } from "chai";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { ConfigError, parsePreviousDataKeys } from "../../src/config.js";
import { Aead, generateDataKey } from "../../src/crypto/aead.js";
import { ENCRYPTED_COLUMNS } from "../../src/crypto/encrypted-columns.js";
import { fingerprint, MAX_KEY_VERSION, openKeyring, planVersions } from "../../src/crypto/keyring.js";
import { reencryptRows } from "../../src/crypto/rotation.js";
import { FatalStartupError } from "../../src/errors.js";
import { migrate } from "../../src/storage/migrations.js";
import { freshDatabase } from "../support/postgres.js";

const secretColumn = ENCRYPTED_COLUMNS.find((c) => c.table === "secrets")!;

describe("data key versions (pure)", () => {
  it("fingerprints a key deterministically, differently per key, without containing it", () => {
    const raw = randomBytes(32);
    expect(fingerprint(raw)).to.equal(fingerprint(Buffer.from(raw)));
    expect(fingerprint(raw)).to.not.equal(fingerprint(randomBytes(32)));
    expect(fingerprint(raw)).to.not.contain(raw.toString("hex"));
    expect(fingerprint(raw)).to.not.contain(raw.toString("base64"));
  });

  it("keeps registered versions and gives unknown keys the next free ones, in order", () => {
    const plan = planVersions(
      new Map([
        ["a", 1],
        ["b", 2],
      ]),
      ["c", "a", "d", "c"],
    );
    expect(plan.versions).to.deep.equal([3, 1, 4, 3]);
    expect(plan.added).to.deep.equal([
      { version: 3, fingerprint: "c" },
      { version: 4, fingerprint: "d" },
    ]);
    expect(planVersions(new Map(), ["x"]).versions).to.deep.equal([1]);
  });

  it("refuses a new key once all 255 version bytes are used", () => {
    const full = new Map(Array.from({ length: MAX_KEY_VERSION }, (_, i) => [`k${i}`, i + 1] as const));
    expect(planVersions(full, ["k7"]).versions).to.deep.equal([8]);
    expect(() => planVersions(full, ["new"])).to.throw(FatalStartupError, /all 255 data key versions/);
  });

  it("reads the decrypt-only key list strictly, never echoing a key in its messages", () => {
    const [a, b, current] = [generateDataKey(), generateDataKey(), generateDataKey()];
    expect(parsePreviousDataKeys(` ${a} , ${b},`, current)).to.deep.equal([a, b]);
    expect(parsePreviousDataKeys(undefined, current)).to.deep.equal([]);
    const problems: [string, RegExp][] = [
      [`${a},c2hvcnQ=`, /entry 2 must be the base64 of exactly 32 bytes/],
      [`${a},${a}`, /entry 2 repeats/],
      [current, /entry 1 repeats STRONGROOM_DATA_KEY/],
      [`${a.slice(0, -1)}!`, /entry 1 must be/],
    ];
    for (const [list, message] of problems) {
      let thrown: unknown;
      try {
        parsePreviousDataKeys(list, current);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).to.be.instanceOf(ConfigError);
      expect((thrown as Error).message).to.match(message);
      for (const key of [a, current]) expect((thrown as Error).message).to.not.contain(key);
    }
  });

  it("re-encrypts rows under the current version and names the ones it cannot read", () => {
    const [k1, k2, k3] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const old = new Aead(new Map([[1, k1]]));
    const lost = new Aead(new Map([[3, k3]]));
    const both = new Aead(
      new Map([
        [1, k1],
        [2, k2],
      ]),
      2,
    );
    const row = (id: string, aead: Aead) => ({
      key: [id, 1],
      blob: aead.encrypt(Buffer.from(`plain ${id}`), `${id}#1`),
    });
    const tampered = row("c", old);
    tampered.blob[20]! ^= 1;
    const { updates, unreadable } = reencryptRows(both, secretColumn, [row("a", old), row("b", lost), tampered]);
    expect(updates).to.have.length(1);
    expect(updates[0]!.fresh[0]).to.equal(2);
    expect(both.decrypt(updates[0]!.fresh, "a#1").toString()).to.equal("plain a");
    expect(unreadable).to.deep.equal([
      { label: "secret values", id: "b 1", reason: "data key version 3 was not given" },
      { label: "secret values", id: "c 1", reason: "does not decrypt under data key version 1" },
    ]);
  });
});

describe("data key versions (in the database)", () => {
  let pool: pg.Pool;
  beforeEach(async () => {
    pool = new pg.Pool({ connectionString: await freshDatabase(), max: 8 });
    await migrate(pool);
  });
  afterEach(() => pool.end());
  const versions = async (): Promise<number[]> =>
    (await pool.query<{ version: number }>("SELECT version FROM data_keys ORDER BY version")).rows.map(
      (r) => r.version,
    );

  it("replicas starting together with a new key agree on one version for it", async () => {
    const [k1, k2] = [generateDataKey(), generateDataKey()];
    await openKeyring(pool, k1);
    const started = await Promise.all(
      Array.from({ length: 6 }, (_, i) => openKeyring(pool, i % 2 ? k2 : k1, i % 2 ? [k1] : [k2])),
    );
    expect(started.map((a) => a.currentVersion)).to.deep.equal([1, 2, 1, 2, 1, 2]);
    expect(await versions()).to.deep.equal([1, 2]);
    // Whoever wrote it, every replica reads it.
    const blob = started[1]!.encrypt(Buffer.from("x"), "aad");
    for (const aead of started) expect(aead.decrypt(blob, "aad").toString()).to.equal("x");
  });

  it("a database from before key versions adopts the key that opens its key check as version 1", async () => {
    const [k1, k2] = [generateDataKey(), generateDataKey()];
    await openKeyring(pool, k1);
    await pool.query("DELETE FROM data_keys");
    const aead = await openKeyring(pool, k2, [k1]);
    expect(aead.currentVersion).to.equal(2);
    const { rows } = await pool.query<{ version: number; fingerprint: string }>(
      "SELECT version, fingerprint FROM data_keys ORDER BY version",
    );
    expect(rows).to.deep.equal([
      { version: 1, fingerprint: fingerprint(Buffer.from(k1, "base64")) },
      { version: 2, fingerprint: fingerprint(Buffer.from(k2, "base64")) },
    ]);
  });

  it("a wrong key registers nothing and is refused", async () => {
    await openKeyring(pool, generateDataKey());
    let message = "";
    await openKeyring(pool, generateDataKey(), [generateDataKey()]).catch((err: Error) => (message = err.message));
    expect(message).to.match(
      /^the data key does not match the encrypted data in this database: its key check is under data key version 1/,
    );
    expect(await versions()).to.deep.equal([1]);
  });

  it("every bytea column is either rotated or the key check", async () => {
    const { rows } = await pool.query<{ t: string; c: string }>(
      "SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND data_type = 'bytea' ORDER BY 1, 2",
    );
    const rotated = new Set(ENCRYPTED_COLUMNS.map((c) => `${c.table}.${c.column}`));
    expect(rows.map((r) => `${r.t}.${r.c}`).filter((name) => !rotated.has(name))).to.deep.equal(["key_check.blob"]);
  });
});
