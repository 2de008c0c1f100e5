import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import pg from "pg";
import { generateDataKey } from "../../src/crypto/aead.js";
import { ENCRYPTED_COLUMNS } from "../../src/crypto/encrypted-columns.js";
import { Client, fq } from "../support/client.js";
import { freshDatabase } from "../support/postgres.js";
import { startTestServer, type TestServer } from "../support/server.js";

const MAIN = join(import.meta.dirname, "../../src/cli/main.ts");
const VARIABLES = 300;
const ALICE_PASSWORD = "Rotate!Me-Pass99";
const ids = Array.from({ length: VARIABLES }, (_, i) => `rot/v${i}`);
const b64 = (s: string): string => Buffer.from(s).toString("base64");

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** `strongroom data-key rotate` as an operator runs it: its own process, keys in the environment. */
function rotate(databaseUrl: string, newKey: string, previous: string[], args: string[] = []): Run {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, "data-key", "rotate", ...args], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      STRONGROOM_DATA_KEY: newKey,
      STRONGROOM_PREVIOUS_DATA_KEYS: previous.join(","),
      STRONGROOM_LOG_LEVEL: "warn",
    },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return { child, done: new Promise((ok) => child.on("close", (code) => ok({ code, stdout, stderr }))) };
}

/** How many blobs carry each key-version byte, over every encrypted column and key_check. */
async function versionsInDatabase(databaseUrl: string): Promise<Record<string, Record<number, number>>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const out: Record<string, Record<number, number>> = {};
    for (const c of [...ENCRYPTED_COLUMNS, { table: "key_check", column: "blob" }]) {
      const { rows } = await client.query<{ v: number; n: string }>(
        `SELECT get_byte(${c.column}, 0) AS v, count(*) AS n FROM ${c.table} WHERE ${c.column} IS NOT NULL GROUP BY 1`,
      );
      out[`${c.table}.${c.column}`] = Object.fromEntries(rows.map((r) => [r.v, Number(r.n)]));
    }
    return out;
  } finally {
    await client.end();
  }
}

const onlyVersion = (counts: Record<string, Record<number, number>>, version: number): void => {
  for (const [where, byVersion] of Object.entries(counts)) {
    expect(
      Object.keys(byVersion)
        .map(Number)
        .filter((v) => v !== version),
      `${where}: ${JSON.stringify(byVersion)}`,
    ).to.deep.equal([]);
  }
};

async function inParallel<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

/** Every variable's latest value through batch retrieval, checked against what was written. */
async function expectAllValues(client: Client): Promise<void> {
  for (let i = 0; i < VARIABLES; i += 100) {
    const chunk = ids.slice(i, i + 100).map((id) => fq(client.account, id));
    const res = await client.batch(chunk);
    expect(res.status, res.text).to.equal(200);
    const body = res.json();
    chunk.forEach((id, j) => expect(body[id]).to.equal(`value-${i + j}`));
  }
}

describe("strongroom data-key rotate", function () {
  this.timeout(180_000);
  const key1 = generateDataKey();
  const key2 = generateDataKey();
  const key3 = generateDataKey();
  let databaseUrl: string;
  let server: TestServer | undefined;
  let adminKey: string;
  let aliceKey: string;
  let tokenBeforeRotation: string;
  const account = "rot";
  const start = async (dataKey: string, previous: string[] = []): Promise<TestServer> => {
    await server?.close();
    server = undefined;
    server = await startTestServer({
      account,
      databaseUrl,
      dataKey,
      env: previous.length ? { STRONGROOM_PREVIOUS_DATA_KEYS: previous.join(",") } : {},
    });
    return server;
  };
  const admin = async (): Promise<Client> => new Client(server!.url, account).login("admin", adminKey);

  before(async () => {
    databaseUrl = await freshDatabase();
    const first = await start(key1);
    adminKey = first.adminKey;
    const client = await admin();
    const policy = `- !user alice\n- !policy\n  id: rot\n  body:\n${ids.map((id) => `  - !variable ${id.slice(4)}`).join("\n")}\n`;
    const loaded = await client.loadPolicy("POST", "root", policy);
    expect(loaded.status, loaded.text).to.equal(201);
    aliceKey = loaded.json().created_roles[fq(account, "alice", "user")].api_key;
    await inParallel(
      ids.map((id, i) => [id, i] as const),
      10,
      async ([id, i]) => {
        expect((await client.setSecret(id, `old-${i}`)).status).to.equal(201);
        expect((await client.setSecret(id, `value-${i}`)).status).to.equal(201);
      },
    );
    const basic = `Basic ${b64(`alice:${aliceKey}`)}`;
    expect(
      (
        await client.request("PUT", `/authn/${account}/password`, {
          headers: { Authorization: basic },
          body: ALICE_PASSWORD,
          auth: false,
        })
      ).status,
    ).to.equal(204);
    tokenBeforeRotation = client.token!;
    onlyVersion(await versionsInDatabase(databaseUrl), 1);
  });
  after(() => server?.close());

  it("a server given the new key and the old one reads old values and writes new ones under the new key", async () => {
    await start(key2, [key1]);
    const client = await admin();
    await expectAllValues(client);
    expect((await client.setSecret("rot/v0", "value-0-new")).status).to.equal(201);
    expect((await client.setSecret("rot/v0", "value-0")).status).to.equal(201);
    const counts = await versionsInDatabase(databaseUrl);
    expect(counts["secrets.value"]![2]).to.equal(2);
    expect(counts["secrets.value"]![1]).to.be.greaterThan(0);
  });

  it("stopped (SIGTERM) or killed (kill -9) midway, leaves everything readable; run again, it finishes and every blob carries the new version byte", async () => {
    const client = await admin();
    /** Start a rotation one row per batch; once `enough` says so, send `signal`. */
    const interrupt = async (signal: NodeJS.Signals, enough: (secrets: Record<number, number>) => boolean) => {
      const run = rotate(databaseUrl, key2, [key1], ["--batch-size", "1"]);
      let exited = false;
      void run.done.then(() => (exited = true));
      for (;;) {
        if (enough((await versionsInDatabase(databaseUrl))["secrets.value"]!)) break;
        expect(exited, "rotation finished before it could be interrupted").to.equal(false);
        await new Promise((ok) => setTimeout(ok, 10));
      }
      run.child.kill(signal);
      return run.done;
    };
    const stopped = await interrupt("SIGTERM", (s) => (s[2] ?? 0) >= 30);
    expect(stopped.code).to.not.equal(0);
    expect(stopped.stdout).to.not.contain("Every encrypted value");
    const afterStop = (await versionsInDatabase(databaseUrl))["secrets.value"]![2]!;
    await interrupt("SIGKILL", (s) => (s[2] ?? 0) >= afterStop + 30 && (s[1] ?? 0) >= 60);
    const midway = await versionsInDatabase(databaseUrl);
    expect(midway["secrets.value"]![1], "some rows still under key 1").to.be.greaterThan(0);
    expect(midway["secrets.value"]![2], "some rows already under key 2").to.be.greaterThan(afterStop);
    expect(midway["key_check.blob"], "the key check moved first").to.deep.equal({ 2: 1 });
    await expectAllValues(client);

    const resumed = await rotate(databaseUrl, key2, [key1]).done;
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(resumed.stderr).to.contain("Rotating to data key version 2");
    expect(resumed.stdout).to.match(
      /^Re-encrypted \d+ values under data key version 2 \(secret values \d+, API keys \d+, password hashes 1, token signing keys 1\)\.$/m,
    );
    expect(resumed.stdout).to.contain("Every encrypted value is under data key version 2");
    onlyVersion(await versionsInDatabase(databaseUrl), 2);
    await expectAllValues(client);

    const again = await rotate(databaseUrl, key2, [key1]).done;
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.contain("Re-encrypted 0 values under data key version 2");
  });

  it("a server serving reads, logins and writes through a whole rotation never errors and always answers the right plaintext", async () => {
    await start(key3, [key2]);
    const client = await admin();
    const failures: string[] = [];
    let requests = 0;
    let rotating = true;
    const check = (what: string, ok: boolean, detail: string): void => {
      requests++;
      if (!ok) failures.push(`${what}: ${detail}`);
    };
    const worker = async (w: number): Promise<void> => {
      for (let n = 0; rotating; n++) {
        const i = (w * 37 + n) % (VARIABLES - 10); // the last ten are the churned ones
        const batch = await client.batch([fq(account, ids[i]!), fq(account, ids[(i + 1) % VARIABLES]!)]);
        check(
          "batch",
          batch.status === 200 && batch.json()[fq(account, ids[i]!)] === `value-${i}`,
          `${batch.status} ${batch.text}`,
        );
        const old = await client.getSecret(ids[i]!, "?version=1");
        check("version 1", old.status === 200 && old.text === `old-${i}`, `${old.status} ${old.text}`);
        const login = await client.request("POST", `/authn/${account}/alice/authenticate`, {
          body: aliceKey,
          auth: false,
        });
        check("authenticate", login.status === 200, String(login.status));
        const churn = `rot/v${VARIABLES - 1 - w}`;
        const write = await client.setSecret(churn, `value-${VARIABLES - 1 - w}-${n}`);
        const readBack = await client.getSecret(churn);
        check(
          "write",
          write.status === 201 && readBack.text === `value-${VARIABLES - 1 - w}-${n}`,
          `${write.status} ${readBack.status}`,
        );
      }
      await client.setSecret(`rot/v${VARIABLES - 1 - w}`, `value-${VARIABLES - 1 - w}`);
    };
    const workers = Promise.all([0, 1, 2, 3].map(worker));
    const run = await rotate(databaseUrl, key3, [key2], ["--batch-size", "5"]).done;
    rotating = false;
    await workers;
    expect(run.code, run.stderr).to.equal(0);
    expect(failures.slice(0, 5)).to.deep.equal([]);
    expect(requests).to.be.greaterThan(40);
    onlyVersion(await versionsInDatabase(databaseUrl), 3);
    await expectAllValues(client);
  });

  it("afterwards a server given only an old key refuses to start, saying why", async () => {
    await server?.close();
    server = undefined;
    for (const oldKey of [key1, key2]) {
      const refused = await start(oldKey).then(
        () => "started",
        (err: Error) => err.message,
      );
      expect(refused).to.match(
        /^the data key does not match the encrypted data in this database: its key check is under data key version 3, which is not among the keys given/,
      );
    }
  });

  it("a server given only the new key reads every value, accepts API keys and passwords, and verifies tokens issued before the rotation", async () => {
    await start(key3);
    const client = await admin();
    await expectAllValues(client);
    expect((await client.getSecret("rot/v7", "?version=1")).text).to.equal("old-7");
    const password = await client.request("GET", `/authn/${account}/login`, {
      headers: { Authorization: `Basic ${b64(`alice:${ALICE_PASSWORD}`)}` },
      auth: false,
    });
    expect(password.status).to.equal(200);
    expect(password.text).to.equal(aliceKey);
    const old = new Client(server!.url, account);
    old.token = tokenBeforeRotation;
    const res = await old.getSecret("rot/v1");
    expect(res.status).to.equal(200);
    expect(res.text).to.equal("value-1");
  });

  it("reports a value it cannot decrypt, re-encrypts the rest, and exits 1", async () => {
    await server?.close();
    server = undefined;
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    // Tamper with one ciphertext (flip a byte of its tag): it no longer authenticates.
    await db.query(
      "UPDATE secrets SET value = overlay(value placing decode('ff', 'hex') from 14 for 1) WHERE resource_id = $1 AND version = 1",
      [fq(account, "rot/v5")],
    );
    await db.end();
    const key4 = generateDataKey();
    const run = await rotate(databaseUrl, key4, [key3]).done;
    expect(run.code).to.equal(1);
    expect(run.stderr).to.contain(
      `cannot re-encrypt secret values ${fq(account, "rot/v5")} 1: does not decrypt under data key version 3`,
    );
    expect(run.stderr).to.contain("1 values are still under older data keys");
    const secrets = (await versionsInDatabase(databaseUrl))["secrets.value"]!;
    expect(secrets[3]).to.equal(1);
    expect(Object.keys(secrets)).to.deep.equal(["3", "4"]);
  });
});
