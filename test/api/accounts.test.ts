import { expect } from "chai";
import { createAccount } from "../../src/accounts/accounts.js";
import { Client } from "../support/client.js";
import { rawRequest } from "../support/raw-request.js";
import { startTestServer, type TestServer } from "../support/server.js";

const FORM = { "Content-Type": "application/x-www-form-urlencoded" };

describe("accounts API and GET /", () => {
  let server: TestServer;
  let accountAdmin: Client;
  let root: Client;

  before(async () => {
    server = await startTestServer({ account: "cucumber" });
    accountAdmin = await new Client(server.url, "cucumber").login("admin", server.adminKey);
    // The special account `!` (as `strongroom account create '!'` makes it); its policy grants the privileges.
    const systemKey = await createAccount(server.services.pool, server.services.aead, "!");
    root = await new Client(server.url, "!").login("admin", systemKey);
    const res = await root.loadPolicy(
      "POST",
      "root",
      `
- !user privileged
- !webservice accounts
- !permit { role: !user privileged, privileges: [read, execute, update], resource: !webservice accounts }
`,
    );
    expect(res.status, res.text).to.equal(201);
  });
  after(() => server.close());

  it("refuses an ordinary account's admin (403, empty)", async () => {
    for (const [method, path] of [
      ["GET", "/accounts"],
      ["POST", "/accounts?id=x"],
      ["DELETE", "/accounts/cucumber"],
    ] as const) {
      const res = await accountAdmin.request(method, path);
      expect(res.status, `${method} ${path}`).to.equal(403);
      expect(res.text).to.equal("");
    }
  });

  it("creates an account (201 with its admin's API key), lists it, and its admin can log in", async () => {
    const res = await root.request("POST", "/accounts", { body: "id=new-account", headers: FORM });
    expect(res.status, res.text).to.equal(201);
    expect(Object.keys(res.json())).to.deep.equal(["id", "api_key"]);
    expect(res.json().id).to.equal("new-account");
    const newAdmin = await new Client(server.url, "new-account").login("admin", res.json().api_key);
    expect((await newAdmin.request("GET", "/whoami")).json().account).to.equal("new-account");
    // The caller owns the new admin's resource.
    expect((await root.request("GET", "/accounts")).json()).to.deep.equal(["cucumber", "new-account"]);
    expect(
      (
        await root.request("POST", "/accounts", {
          body: JSON.stringify({ id: "new.account@example.com" }),
          headers: { "Content-Type": "application/json" },
        })
      ).status,
    ).to.equal(201);
  });

  it("answers 409 for an existing account and 422 for invalid names, in Conjur's words", async () => {
    const again = await root.request("POST", "/accounts?id=new-account");
    expect(again.status).to.equal(409);
    expect(again.json()).to.deep.equal({
      error: {
        code: "conflict",
        message: 'account "new-account" already exists',
        target: "account",
        details: { code: "conflict", target: "id", message: "new-account" },
      },
    });
    const slash = await root.request("POST", "/accounts", { body: "id=new%2Faccount", headers: FORM });
    expect(slash.status).to.equal(422);
    expect(slash.json().error.message).to.equal("Invalid account: new/account");
    const colon = await root.request("POST", "/accounts", { body: "id=test%3Abad", headers: FORM });
    expect(colon.status).to.equal(422);
    expect(colon.json().error.message).to.equal('account name "test:bad" contains invalid characters (:)');
  });

  it("deletes an account (204): its admin can do nothing more, and it is no longer listed", async () => {
    const created = await root.request("POST", "/accounts?id=doomed");
    const doomedAdmin = await new Client(server.url, "doomed").login("admin", created.json().api_key);
    expect((await doomedAdmin.loadPolicy("POST", "root", "- !variable v\n")).status).to.equal(201);
    expect((await root.request("DELETE", "/accounts/doomed")).status).to.equal(204);
    expect((await root.request("GET", "/accounts")).json()).not.to.include("doomed");
    expect((await doomedAdmin.request("GET", "/resources/doomed")).status).to.be.oneOf([401, 403]);
    expect(
      (await rawRequest(server.url, "POST", "/authn/doomed/admin/authenticate", { body: created.json().api_key }))
        .status,
    ).to.equal(401);
    expect((await root.request("DELETE", "/accounts/doomed")).status).to.equal(404);
  });

  it("keeps the privileges to the `!` roles they are given", async () => {
    const privileged = await root.request("PUT", "/authn/!/api_key?role=!:user:privileged");
    expect(privileged.status, privileged.text).to.equal(200);
    const client = await new Client(server.url, "!").login("privileged", privileged.text);
    expect((await client.request("GET", "/accounts")).status).to.equal(200);
  });

  it("answers GET / with the Conjur version for Accept: application/json (the Go SDK's version check)", async () => {
    const res = await rawRequest(server.url, "GET", "/", { headers: { Accept: "application/json, text/html" } });
    expect(res.status).to.equal(200);
    expect(JSON.parse(res.body.toString())).to.deep.equal({ version: "1.24.0" });
    const html = await rawRequest(server.url, "GET", "/");
    expect(html.headers["content-type"]).to.match(/^text\/html/);
    expect(html.body.toString()).to.contain("<dd>Version 1.24.0</dd>");
  });
});
