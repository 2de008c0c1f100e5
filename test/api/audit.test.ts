import { expect } from "chai";
import { Client, fq } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe("logs and audit", () => {
  const lines: string[] = [];
  let server: TestServer;
  let admin: Client;
  const SECRET = "value-that-must-never-be-logged-7f3a";
  const audits = (): any[] => lines.map((l) => JSON.parse(l)).filter((l) => l.audit === true);

  before(async () => {
    server = await startTestServer({ account: "aud", logLines: lines });
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    await admin.loadPolicy("POST", "root", "- !variable db/password\n- !host app\n");
  });
  after(() => server.close());

  it("writes an audit line for every authentication attempt, success or failure", async () => {
    await admin.request("POST", "/authn/aud/admin/authenticate", { body: "wrong", auth: false });
    const events = audits().filter((e) => e.action === "authenticate");
    expect(events.map((e) => [e.role, e.outcome])).to.deep.include.members([
      ["aud:user:admin", "success"],
      ["aud:user:admin", "failure"],
    ]);
  });

  it("writes an audit line for every secret write and read (who, what, outcome), with the request id", async () => {
    await admin.setSecret("db/password", SECRET);
    await admin.request("GET", "/secrets/aud/variable/db%2Fpassword", { headers: { "X-Request-Id": "req-42" } });
    const host = await new Client(server.url, "aud").login(
      "host/app",
      (await admin.request("PUT", "/authn/aud/api_key?role=host:app")).text,
    );
    await host.getSecret("db/password");
    await admin.batch([fq("aud", "db/password")]);
    const secretEvents = audits().filter((e) => e.action === "write-secret" || e.action === "read-secret");
    expect(secretEvents.map((e) => [e.action, e.role, e.outcome])).to.deep.equal([
      ["write-secret", "aud:user:admin", "success"],
      ["read-secret", "aud:user:admin", "success"],
      ["read-secret", "aud:host:app", "failure"],
      ["read-secret", "aud:user:admin", "success"],
    ]);
    expect(secretEvents[1].resource).to.equal("aud:variable:db/password");
    expect(secretEvents[1].requestId).to.equal("req-42");
  });

  it("never logs a secret value, an API key or a token", () => {
    const all = lines.join("\n");
    expect(all).to.not.contain(SECRET);
    expect(all).to.not.contain(server.adminKey);
    expect(all).to.not.contain(admin.token!);
  });
});
