import { expect } from "chai";
import { Client } from "../support/client.js";
import { rawRequest } from "../support/raw-request.js";
import { startTestServer, type TestServer } from "../support/server.js";

const LAPTOP = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDlaptop laptop";
const WORKSTATION = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIworkstation workstation";

describe("GET /public_keys and public_keys in policy", () => {
  let server: TestServer;
  let admin: Client;

  before(async () => {
    server = await startTestServer({ account: "pk" });
    admin = await new Client(server.url, "pk").login("admin", server.adminKey);
    const res = await admin.loadPolicy(
      "POST",
      "root",
      `
- !user
  id: alice
  public_keys:
  - ${LAPTOP}
  - ${WORKSTATION}
- !policy { id: dev, body: [ !user { id: bob, public_key: "${LAPTOP}" } ] }
- !user nokeys
`,
    );
    expect(res.status, res.text).to.equal(201);
  });
  after(() => server.close());

  it("answers without a token, text/plain, keys by name joined with newlines and a final newline (what the Go SDK and CLI call)", async () => {
    const res = await rawRequest(server.url, "GET", "/public_keys/pk/user/alice");
    expect(res.status).to.equal(200);
    expect(res.headers["content-type"]).to.match(/^text\/plain/);
    expect(res.body.toString()).to.equal(`${LAPTOP}\n${WORKSTATION}\n`);
    expect((await rawRequest(server.url, "GET", "/public_keys/pk/user/bob@dev")).body.toString()).to.equal(
      `${LAPTOP}\n`,
    );
  });

  it("answers 200 with just a newline for a user without keys or an unknown user", async () => {
    for (const user of ["nokeys", "nobody"]) {
      const res = await rawRequest(server.url, "GET", `/public_keys/pk/user/${user}`);
      expect(res.status).to.equal(200);
      expect(res.body.toString()).to.equal("\n");
    }
  });

  it("stores each key as the secret of a public_key resource owned by the user's owner", async () => {
    const res = await admin.request("GET", "/resources/pk/public_key/user%2Falice%2Flaptop");
    expect(res.status).to.equal(200);
    expect(res.json()).to.include({ id: "pk:public_key:user/alice/laptop", owner: "pk:user:admin" });
  });

  it("adds a new version only when a key changes, and answers the latest", async () => {
    const changed = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDnewer laptop";
    expect(
      (
        await admin.loadPolicy(
          "PATCH",
          "root",
          `- !user { id: alice, public_keys: [ "${changed}", "${WORKSTATION}" ] }\n`,
        )
      ).status,
    ).to.equal(201);
    expect(
      (
        await admin.loadPolicy(
          "PATCH",
          "root",
          `- !user { id: alice, public_keys: [ "${changed}", "${WORKSTATION}" ] }\n`,
        )
      ).status,
    ).to.equal(201);
    expect((await rawRequest(server.url, "GET", "/public_keys/pk/user/alice")).body.toString()).to.equal(
      `${changed}\n${WORKSTATION}\n`,
    );
    const versions = (await admin.request("GET", "/resources/pk/public_key/user%2Falice%2Flaptop")).json();
    expect(versions.permissions).to.deep.equal([]);
  });

  it("refuses a key that is not three space-separated parts", async () => {
    const res = await admin.loadPolicy(
      "POST",
      "root",
      "- !user { id: carol, public_keys: [ ssh-rsa-only-two AAAA ] }\n",
    );
    expect(res.status).to.equal(422);
    expect(res.json().error.message).to.contain("Invalid public key format");
  });

  it("rejects an invalid token (401) but accepts a valid one, and has no route for other kinds", async () => {
    expect(
      (
        await rawRequest(server.url, "GET", "/public_keys/pk/user/alice", {
          headers: { Authorization: 'Token token="bm90LWEtdG9rZW4="' },
        })
      ).status,
    ).to.equal(401);
    expect((await admin.request("GET", "/public_keys/pk/user/alice")).status).to.equal(200);
    expect((await rawRequest(server.url, "GET", "/public_keys/pk/host/alice")).status).to.equal(404);
  });
});
