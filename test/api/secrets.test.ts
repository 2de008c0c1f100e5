import { expect } from "chai";
import pg from "pg";
import { WRITE_IF_UNCHANGED } from "../../src/secrets/add-version.js";
import { randomBytes } from "node:crypto";
import { Client, fq } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

const POLICY = `
- !policy
  id: app
  body:
  - &vars
    - !variable password
    - !variable { id: cert, mime_type: application/x-pem-file }
    - !variable "weird id: with spaces/and ünïcode"
    - !variable binary
    - !variable raced
  - !layer
  - !host reader
  - !host viewer
  - !host writer
  - !grant { role: !layer, member: !host reader }
  - !permit { role: !layer, privileges: [read, execute], resources: *vars }
  - !permit { role: !host viewer, privilege: read, resources: *vars }
  - !permit { role: !host writer, privileges: [read, update], resources: *vars }
- !variable lonely
`;

describe("secrets: POST and GET /secrets/{account}/variable/{id}", () => {
  let server: TestServer;
  let admin: Client;
  const keys: Record<string, string> = {};
  const as = async (host: string): Promise<Client> =>
    new Client(server.url, server.account).login(`host/app/${host}`, keys[host]!);

  before(async () => {
    server = await startTestServer();
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    const loaded = await admin.loadPolicy("POST", "root", POLICY);
    expect(loaded.status).to.equal(201);
    for (const host of ["reader", "viewer", "writer"])
      keys[host] = loaded.json().created_roles[fq(server.account, `app/${host}`, "host")].api_key;
  });
  after(() => server.close());

  it("stores a value and returns the exact bytes as application/octet-stream", async () => {
    expect((await admin.setSecret("app/password", "hunter2")).status).to.equal(201);
    const res = await admin.getSecret("app/password");
    expect(res.status).to.equal(200);
    expect(res.text).to.equal("hunter2");
    expect(res.headers.get("content-type")).to.match(/^application\/octet-stream/);
  });

  it("round-trips binary values byte for byte, whatever the request Content-Type", async () => {
    const value = randomBytes(64);
    const set = await admin.request("POST", `/secrets/${server.account}/variable/app%2Fbinary`, {
      body: value,
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(set.status).to.equal(201);
    expect((await admin.getSecret("app/binary")).bytes.equals(value)).to.equal(true);
  });

  it("answers with the variable's mime_type", async () => {
    await admin.setSecret("app/cert", "-----BEGIN CERTIFICATE-----");
    expect((await admin.getSecret("app/cert")).headers.get("content-type")).to.match(/^application\/x-pem-file/);
  });

  it("accepts identifiers with '/', ':', spaces and UTF-8, percent-encoded or with literal slashes", async () => {
    const id = "app/weird id: with spaces/and ünïcode";
    expect((await admin.setSecret(id, "odd")).status).to.equal(201);
    expect((await admin.getSecret(id)).text).to.equal("odd");
    const literal = await admin.request(
      "GET",
      `/secrets/${server.account}/variable/app/${encodeURIComponent("weird id: with spaces")}/${encodeURIComponent("and ünïcode")}`,
    );
    expect(literal.text).to.equal("odd");
  });

  it("keeps versions, serves ?version=N, and does not add a version for an unchanged value", async () => {
    await admin.setSecret("lonely", "v1");
    await admin.setSecret("lonely", "v2");
    await admin.setSecret("lonely", "v2");
    expect((await admin.getSecret("lonely", "?version=1")).text).to.equal("v1");
    expect((await admin.getSecret("lonely", "?version=2")).text).to.equal("v2");
    expect((await admin.getSecret("lonely", "?version=3")).status).to.equal(404);
  });

  it("gives concurrent writers of one variable a version each: none is lost, none collides, 20 newest kept", async () => {
    const values = Array.from({ length: 30 }, (_, i) => `racer-${i}`);
    const answers = await Promise.all(values.map((value) => admin.setSecret("app/raced", value)));
    expect(answers.map((res) => res.status)).to.deep.equal(values.map(() => 201));
    const resource = await admin.request("GET", `/resources/${server.account}/variable/app%2Fraced`);
    const versions = (resource.json().secrets as { version: number }[]).map((s) => s.version).sort((a, b) => a - b);
    expect(versions).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 11));
    // Every kept version holds one of the values, each at most once, and the latest is one of them.
    const kept = await Promise.all(
      versions.map(async (v) => (await admin.getSecret("app/raced", `?version=${v}`)).text),
    );
    expect(new Set(kept).size).to.equal(20);
    expect(kept.every((value) => values.includes(value))).to.equal(true);
    expect(values).to.include((await admin.getSecret("app/raced")).text);
  });

  it("a writer that read a stale latest cannot slip a low version under newer ones (pruned numbers stay unused)", async () => {
    for (let i = 1; i <= 25; i++) expect((await admin.setSecret("app/binary", `stale-${i}`)).status).to.equal(201);
    // Versions 6..25 remain; 1..5 were pruned. A writer whose read saw version 2 would write 3.
    const db = new pg.Client({ connectionString: server.databaseUrl });
    await db.connect();
    try {
      const id = `${server.account}:variable:app/binary`;
      const current = (await db.query<{ version: string }>("SELECT version::text FROM authorization_version")).rows[0]!
        .version;
      const kept = (
        await db.query<{ low: number; high: number }>(
          "SELECT min(version) AS low, max(version) AS high FROM secrets WHERE resource_id = $1",
          [id],
        )
      ).rows[0]!;
      const write = (version: number) =>
        db.query<{ inserted: number }>(WRITE_IF_UNCHANGED, [id, version, Buffer.from("x"), version - 20, current]);
      const stale = kept.low - 2;
      expect(stale).to.be.above(0);
      expect((await write(stale)).rows[0]!.inserted).to.equal(0);
      expect((await admin.getSecret("app/binary", `?version=${stale}`)).status).to.equal(404);
      expect((await admin.getSecret("app/binary")).text).to.equal("stale-25");
      // The same statement does write the next version (so the refusal above is not vacuous).
      expect((await write(kept.high + 1)).rows[0]!.inserted).to.equal(1);
    } finally {
      await db.end();
    }
  });

  it("keeps only the 20 newest versions: after 21 writes version 1 is gone and 2..21 remain", async () => {
    for (let i = 1; i <= 21; i++) expect((await admin.setSecret("app/password", `pruned-${i}`)).status).to.equal(201);
    const resource = await admin.request("GET", `/resources/${server.account}/variable/app%2Fpassword`);
    const versions = (resource.json().secrets as { version: number }[]).map((s) => s.version);
    expect(versions).to.have.length(20);
    const first = Math.min(...versions);
    expect((await admin.getSecret("app/password", `?version=${first - 1}`)).status).to.equal(404);
    expect((await admin.getSecret("app/password", `?version=${first}`)).status).to.equal(200);
    expect((await admin.getSecret("app/password")).text).to.equal("pruned-21");
  });

  it("rejects an empty value with 422 and writes nothing", async () => {
    const res = await admin.setSecret("app/password", "");
    expect(res.status).to.equal(422);
    expect(res.json()).to.deep.equal({ error: { code: "argument_error", message: "'value' may not be empty" } });
    expect((await admin.getSecret("app/password")).text).to.equal("pruned-21");
  });

  it("rejects a version that is not a positive integer with 422", async () => {
    for (const v of ["abc", "0", "-1", "1.5", ""]) {
      const res = await admin.getSecret("app/password", `?version=${v}`);
      expect(res.status, v).to.equal(422);
      expect(res.json().error.code).to.equal("argument_error");
    }
  });

  it("gives 404 for a missing variable, a variable with no value, and an invisible variable alike", async () => {
    const missing = await admin.getSecret("no/such");
    expect(missing.status).to.equal(404);
    expect(missing.json()).to.deep.equal({
      error: {
        code: "not_found",
        message: `CONJ00076E Variable ${fq(server.account, "no/such")} is empty or not found.`,
      },
    });
    const reader = await as("reader");
    expect((await reader.getSecret("lonely")).status).to.equal(404);
  });

  it("lets execute read, gives 403 to a role that sees the variable without execute", async () => {
    expect((await (await as("reader")).getSecret("app/password")).text).to.equal("pruned-21");
    const viewer = await (await as("viewer")).getSecret("app/password");
    expect(viewer.status).to.equal(403);
    expect(viewer.text).to.equal("");
  });

  it("needs update to write: 201 with it, 403 visible without it, 404 invisible", async () => {
    expect((await (await as("writer")).setSecret("app/password", "by-writer")).status).to.equal(201);
    expect((await (await as("reader")).setSecret("app/password", "nope")).status).to.equal(403);
    const invisible = await (await as("reader")).setSecret("lonely", "nope");
    expect(invisible.status).to.equal(404);
    expect(invisible.json().error.message).to.equal(`Variable 'lonely' not found in account '${server.account}'`);
  });

  it("clears expirations with ?expirations", async () => {
    expect((await admin.request("POST", `/secrets/${server.account}/variable/lonely?expirations`)).status).to.equal(
      201,
    );
  });

  it("serves only the variable kind", async () => {
    expect((await admin.request("GET", `/secrets/${server.account}/group/app`)).status).to.equal(404);
  });

  it("requires a token", async () => {
    expect((await admin.request("GET", `/secrets/${server.account}/variable/lonely`, { auth: false })).status).to.equal(
      401,
    );
  });
});
