import { expect } from "chai";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, fq } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

describe("audit: one record per variable, denials, the audit file, failing closed", () => {
  const dir = mkdtempSync(join(tmpdir(), "strongroom-audit-api-"));
  const auditFile = join(dir, "audit.jsonl");
  const logLines: string[] = [];
  let server: TestServer;
  let admin: Client;
  let host: Client;
  let hostKey: string;
  const SECRET = "audit-test-value-never-written-9c1d";
  const ids = Array.from({ length: 50 }, (_, i) => `app/v${i}`);
  const fileRecords = (): any[] =>
    readFileSync(auditFile, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
  const forRequest = (requestId: string): any[] => fileRecords().filter((r) => r.requestId === requestId);

  before(async () => {
    server = await startTestServer({ account: "aud", flags: { "audit-file": auditFile }, logLines });
    admin = await new Client(server.url, "aud").login("admin", server.adminKey);
    const policy = [
      ...ids.map((id) => `- !variable ${id}`),
      "- !variable hidden",
      "- !variable readable-only",
      "- !host app",
      "- !permit { role: !host app, privilege: [read, execute], resource: !variable app/v0 }",
      "- !permit { role: !host app, privilege: read, resource: !variable readable-only }",
    ].join("\n");
    hostKey = (await admin.loadPolicy("POST", "root", policy)).json().created_roles["aud:host:app"].api_key;
    host = await new Client(server.url, "aud").login("host/app", hostKey);
    for (const id of [...ids, "readable-only"])
      expect((await admin.setSecret(id, `${SECRET}-${id}`)).status).to.equal(201);
  });
  after(() => server.close());

  it("writes a batch of 50 variables as 50 records, each with its variable id and outcome, to the file and the log", async () => {
    const res = await admin.batch(
      ids.map((id) => fq("aud", id)),
      { "X-Request-Id": "batch-50" },
    );
    expect(res.status).to.equal(200);
    const records = forRequest("batch-50");
    expect(records).to.have.length(50);
    expect(records.map((r) => r.resource)).to.have.members(ids.map((id) => fq("aud", id)));
    for (const r of records)
      expect(r).to.include({
        type: "audit",
        action: "read-secret",
        role: "aud:user:admin",
        outcome: "success",
        clientIp: "127.0.0.1",
      });
    const logged = logLines.map((l) => JSON.parse(l)).filter((l) => l.audit === true && l.requestId === "batch-50");
    expect(logged).to.have.length(50);
  });

  it("records a refused batch per variable: which one was forbidden or missing, and that the rest were not returned", async () => {
    const res = await host.batch([fq("aud", "app/v0"), fq("aud", "readable-only")], { "X-Request-Id": "batch-403" });
    expect(res.status).to.equal(403);
    expect(forRequest("batch-403").map((r) => [r.resource, r.outcome, r.reason])).to.have.deep.members([
      ["aud:variable:app/v0", "failure", "batch refused"],
      ["aud:variable:readable-only", "failure", "forbidden"],
    ]);
    await admin.batch([fq("aud", "app/v1"), fq("aud", "nope")], { "X-Request-Id": "batch-404" });
    expect(forRequest("batch-404").map((r) => [r.resource, r.reason])).to.have.deep.members([
      ["aud:variable:app/v1", "batch refused"],
      ["aud:variable:nope", "not found"],
    ]);
  });

  it("records denials of single reads and writes: 403, and 404 for an invisible variable", async () => {
    const read403 = await host.request("GET", "/secrets/aud/variable/readable-only", {
      headers: { "X-Request-Id": "read-403" },
    });
    const read404 = await host.request("GET", "/secrets/aud/variable/hidden", {
      headers: { "X-Request-Id": "read-404" },
    });
    const write403 = await host.request("POST", "/secrets/aud/variable/app%2Fv0", {
      body: "x",
      headers: { "X-Request-Id": "write-403" },
    });
    expect([read403.status, read404.status, write403.status]).to.deep.equal([403, 404, 403]);
    expect(forRequest("read-403")).to.deep.equal([
      {
        ...forRequest("read-403")[0],
        action: "read-secret",
        role: "aud:host:app",
        resource: "aud:variable:readable-only",
        outcome: "failure",
        reason: "403 forbidden",
      },
    ]);
    expect(forRequest("read-404")[0]).to.include({
      resource: "aud:variable:hidden",
      outcome: "failure",
      reason: "404 not_found",
    });
    expect(forRequest("write-403")[0]).to.include({
      action: "write-secret",
      outcome: "failure",
      reason: "403 forbidden",
    });
  });

  it("records ?expirations, failed authentication and failed Basic login", async () => {
    await admin.request("POST", "/secrets/aud/variable/app%2Fv1?expirations", {
      headers: { "X-Request-Id": "expirations" },
    });
    await admin.request("POST", "/authn/aud/host%2Fapp/authenticate", {
      body: "wrong",
      auth: false,
      headers: { "X-Request-Id": "bad-authn" },
    });
    await admin.request("GET", "/authn/aud/login", {
      auth: false,
      headers: { Authorization: `Basic ${b64("admin:wrong")}`, "X-Request-Id": "bad-login" },
    });
    expect(forRequest("expirations")[0]).to.include({
      action: "clear-expirations",
      resource: "aud:variable:app/v1",
      outcome: "success",
    });
    expect(forRequest("bad-authn")[0]).to.include({
      action: "authenticate",
      role: "aud:host:app",
      outcome: "failure",
      reason: "401 invalid credentials",
    });
    expect(forRequest("bad-login")[0]).to.include({ action: "login", role: "aud:user:admin", outcome: "failure" });
  });

  it("keeps the file at mode 0600 and free of values, API keys and tokens", () => {
    expect(statSync(auditFile).mode & 0o777).to.equal(0o600);
    const text = readFileSync(auditFile, "utf8");
    expect(text).to.not.contain(SECRET);
    expect(text).to.not.contain(server.adminKey);
    expect(text).to.not.contain(hostKey);
    expect(text).to.not.contain(admin.token!);
  });

  it("refuses to start when the audit file cannot be opened, with a one-line reason", async () => {
    const err = await startTestServer({
      databaseUrl: server.databaseUrl,
      dataKey: server.dataKey,
      account: "aud",
      flags: { "audit-file": join(dir, "missing-dir", "audit.jsonl") },
    }).catch((e: unknown) => e as Error);
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.match(/^cannot open the audit file '.*missing-dir\/audit.jsonl': ENOENT$/);
  });

  describe("when the audit sink cannot be written (a replica whose audit file is /dev/full: disk full)", () => {
    let broken: TestServer;
    let viaBroken: Client;
    before(async () => {
      // Same database and data key: a token issued by the healthy replica is valid here.
      broken = await startTestServer({
        databaseUrl: server.databaseUrl,
        dataKey: server.dataKey,
        account: "aud",
        flags: { "audit-file": "/dev/full" },
      });
      viaBroken = new Client(broken.url, "aud");
      viaBroken.token = admin.token;
    });
    after(() => broken.close());

    it("fails a single read with 503 and a generic message, never the value", async () => {
      const res = await viaBroken.getSecret("app/v3");
      expect(res.status).to.equal(503);
      expect(res.json().error).to.deep.equal({
        code: "service_unavailable",
        message: "The audit log cannot be written; the request was refused",
      });
      expect(res.text).to.not.contain(SECRET);
    });

    it("fails a batch read with 503 and no value", async () => {
      const res = await viaBroken.batch(ids.slice(0, 10).map((id) => fq("aud", id)));
      expect(res.status).to.equal(503);
      expect(res.text).to.not.contain(SECRET);
    });

    it("fails a write with 503 and rolls it back: the value is not stored", async () => {
      const res = await viaBroken.setSecret("app/v4", "unaudited-change");
      expect(res.status).to.equal(503);
      expect((await admin.getSecret("app/v4")).text).to.equal(`${SECRET}-app/v4`);
    });

    it("fails authentication and API key rotation with 503: no token, no new key", async () => {
      const authn = await viaBroken.request("POST", "/authn/aud/host%2Fapp/authenticate", {
        body: hostKey,
        auth: false,
      });
      expect(authn.status).to.equal(503);
      const rotate = await viaBroken.request("PUT", "/authn/aud/api_key?role=host:app");
      expect(rotate.status).to.equal(503);
      expect(
        (await admin.request("POST", "/authn/aud/host%2Fapp/authenticate", { body: hostKey, auth: false })).status,
      ).to.equal(200);
    });

    it("counts the failures in strongroom_audit_write_failures_total", async () => {
      const metrics = await (await fetch(`${broken.url}/metrics`)).text();
      const count = Number(/^strongroom_audit_write_failures_total (\d+)/m.exec(metrics)?.[1]);
      expect(count).to.be.at.least(5);
    });
  });
});
