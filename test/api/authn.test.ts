import { expect } from "chai";
import { Client } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const basic = (login: string, secret: string): Record<string, string> => ({
  Authorization: `Basic ${b64(`${login}:${secret}`)}`,
});
const part = (token: string, name: "protected" | "payload"): any =>
  JSON.parse(Buffer.from(JSON.parse(Buffer.from(token, "base64").toString())[name], "base64url").toString());

describe("authentication", () => {
  let server: TestServer;
  let other: TestServer;
  let admin: Client;
  let aliceKey: string;
  let hostKey: string;
  const authenticate = (login: string, body: string, headers: Record<string, string> = {}) =>
    admin.request("POST", `/authn/${server.account}/${encodeURIComponent(login)}/authenticate`, {
      body,
      headers,
      auth: false,
    });

  before(async () => {
    server = await startTestServer({ account: "acme" });
    other = await startTestServer({ account: "other" });
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    const res = await admin.loadPolicy(
      "POST",
      "root",
      "- !user alice\n- !user bob\n- !host ci/runner\n- !group ops\n- !permit { role: !user alice, privilege: update, resource: !user bob }\n- !permit { role: !user alice, privilege: update, resource: !group ops }",
    );
    aliceKey = res.json().created_roles["acme:user:alice"].api_key;
    hostKey = res.json().created_roles["acme:host:ci/runner"].api_key;
  });
  after(async () => {
    await server.close();
    await other.close();
  });

  describe("POST /authn/{account}/{login}/authenticate", () => {
    it("returns the token JSON with protected, payload and signature, and claims iat, sub, exp 8 minutes apart", async () => {
      const res = await authenticate("alice", aliceKey);
      expect(res.status).to.equal(200);
      expect(res.headers.get("content-type")).to.match(/^application\/json/);
      expect(Object.keys(res.json())).to.deep.equal(["protected", "payload", "signature"]);
      const claims = JSON.parse(Buffer.from(res.json().payload, "base64url").toString());
      expect(Object.keys(claims)).to.deep.equal(["iat", "sub", "exp"]);
      expect(claims.sub).to.equal("alice");
      expect(claims.exp - claims.iat).to.equal(480);
    });

    it("returns base64 text with Content-Encoding: base64 when Accept-Encoding lists base64", async () => {
      for (const accept of ["base64", "gzip ,  bASe64 ,br"]) {
        const res = await authenticate("alice", aliceKey, { "Accept-Encoding": accept });
        expect(res.headers.get("content-encoding")).to.equal("base64");
        expect(res.headers.get("content-type")).to.match(/^text\/plain/);
        expect(JSON.parse(Buffer.from(res.text, "base64").toString())).to.have.keys(
          "protected",
          "payload",
          "signature",
        );
      }
    });

    it("authenticates hosts as host%2Fid and users with a user/ prefix", async () => {
      expect((await authenticate("host/ci/runner", hostKey)).status).to.equal(200);
      expect((await authenticate("user/alice", aliceKey)).status).to.equal(200);
    });

    it("answers 401 with an empty body for a wrong key, an empty body, a trimmed key or an unknown login", async () => {
      for (const [login, key] of [
        ["alice", "wrong"],
        ["alice", ""],
        ["alice", ` ${aliceKey}`],
        ["nobody", aliceKey],
        ["bob", aliceKey],
      ]) {
        const res = await authenticate(login!, key!);
        expect(res.status, `${login}/${key}`).to.equal(401);
        expect(res.text).to.equal("");
      }
    });

    it("does not accept another account's key for the same user name", async () => {
      const res = await other.services.pool.query("SELECT 1");
      expect(res.rowCount).to.equal(1);
      const wrongAccount = await admin.request("POST", `/authn/other/admin/authenticate`, {
        body: server.adminKey,
        auth: false,
      });
      expect(wrongAccount.status).to.equal(401);
    });

    it("does not answer GET", async () => {
      expect(
        (await admin.request("GET", `/authn/${server.account}/alice/authenticate`, { auth: false })).status,
      ).to.equal(404);
    });
  });

  describe("access tokens", () => {
    it('are accepted in Authorization: Token token="…"', async () => {
      const res = await admin.request("GET", "/whoami");
      expect(res.status).to.equal(200);
      expect(res.json()).to.include({ account: "acme", username: "admin" });
      expect(res.json().token_issued_at).to.match(/^\d{4}-\d\d-\d\dT/);
    });

    it("are refused when missing or malformed", async () => {
      expect((await admin.request("GET", "/whoami", { auth: false })).status).to.equal(401);
      expect(
        (await admin.request("GET", "/whoami", { headers: { Authorization: 'Token token="not base64 json"' } })).status,
      ).to.equal(401);
      expect((await admin.request("GET", "/whoami", { headers: { Authorization: "Bearer abc" } })).status).to.equal(
        401,
      );
    });

    it("are refused when tampered with", async () => {
      const token = JSON.parse(Buffer.from(admin.token!, "base64").toString());
      const claims = part(admin.token!, "payload");
      const forged = {
        ...token,
        payload: Buffer.from(JSON.stringify({ ...claims, sub: "alice" })).toString("base64url"),
      };
      const res = await admin.request("GET", "/whoami", {
        headers: { Authorization: `Token token="${b64(JSON.stringify(forged))}"` },
      });
      expect(res.status).to.equal(401);
      const badSig = {
        ...token,
        signature: token.signature.slice(0, -2) + (token.signature.endsWith("AA") ? "BB" : "AA"),
      };
      expect(
        (
          await admin.request("GET", "/whoami", {
            headers: { Authorization: `Token token="${b64(JSON.stringify(badSig))}"` },
          })
        ).status,
      ).to.equal(401);
    });

    it("are refused after they expire", async () => {
      const short = await startTestServer({ account: "brief", tokenTtl: 1 });
      try {
        const client = await new Client(short.url, short.account).login("admin", short.adminKey);
        expect((await client.request("GET", "/whoami")).status).to.equal(200);
        await new Promise((r) => setTimeout(r, 2100));
        expect((await client.request("GET", "/whoami")).status).to.equal(401);
      } finally {
        await short.close();
      }
    });

    it("are refused on another account's paths and by another account's server", async () => {
      const res = await admin.request("GET", `/resources/other/variable`);
      expect(res.status).to.equal(401);
      const elsewhere = await fetch(`${other.url}/whoami`, {
        headers: { Authorization: `Token token="${admin.token!}"` },
      });
      expect(elsewhere.status).to.equal(401);
    });
  });

  describe("GET /authn/{account}/login", () => {
    it("exchanges Basic credentials (API key) for the API key without rotating it", async () => {
      const res = await admin.request("GET", `/authn/acme/login`, { headers: basic("alice", aliceKey), auth: false });
      expect(res.status).to.equal(200);
      expect(res.text).to.equal(aliceKey);
    });

    it("answers 401 for a wrong secret, an unknown user, or a token", async () => {
      expect(
        (await admin.request("GET", `/authn/acme/login`, { headers: basic("alice", "nope"), auth: false })).status,
      ).to.equal(401);
      expect(
        (await admin.request("GET", `/authn/acme/login`, { headers: basic("ghost", aliceKey), auth: false })).status,
      ).to.equal(401);
      expect((await admin.request("GET", `/authn/acme/login`)).status).to.equal(401);
    });
  });

  describe("PUT /authn/{account}/password and login with it", () => {
    it("rejects a weak password with 422 CONJ00046E", async () => {
      const res = await admin.request("PUT", `/authn/acme/password`, {
        headers: basic("alice", aliceKey),
        body: "short",
        auth: false,
      });
      expect(res.status).to.equal(422);
      expect(res.json().error.code).to.equal("validation_failed");
      expect(res.json().error.message).to.contain("CONJ00046E");
    });

    it("sets a strong password (204) that then logs in", async () => {
      const password = "Str0ng!Passw0RD";
      expect(
        (
          await admin.request("PUT", `/authn/acme/password`, {
            headers: basic("alice", aliceKey),
            body: password,
            auth: false,
          })
        ).status,
      ).to.equal(204);
      const res = await admin.request("GET", `/authn/acme/login`, { headers: basic("alice", password), auth: false });
      expect(res.text).to.equal(aliceKey);
    });

    it("refuses token auth (401) and hosts (403)", async () => {
      expect((await admin.request("PUT", `/authn/acme/password`, { body: "Str0ng!Passw0RD" })).status).to.equal(401);
      expect(
        (
          await admin.request("PUT", `/authn/acme/password`, {
            headers: basic("host/ci/runner", hostKey),
            body: "Str0ng!Passw0RD",
            auth: false,
          })
        ).status,
      ).to.equal(403);
    });
  });

  describe("PUT /authn/{account}/api_key", () => {
    it("rotates one's own key with Basic auth; the old key stops working", async () => {
      const res = await admin.request("PUT", `/authn/acme/api_key`, {
        headers: basic("host/ci/runner", hostKey),
        auth: false,
      });
      expect(res.status).to.equal(200);
      expect(res.text).to.not.equal(hostKey);
      expect((await authenticate("host/ci/runner", hostKey)).status).to.equal(401);
      expect((await authenticate("host/ci/runner", res.text)).status).to.equal(200);
      hostKey = res.text;
    });

    it("refuses self-rotation with a token: Credential strength is insufficient", async () => {
      const res = await admin.request("PUT", `/authn/acme/api_key`);
      expect(res.status).to.equal(401);
      expect(res.json()).to.deep.equal({
        error: { code: "unauthorized", message: "Credential strength is insufficient" },
      });
    });

    it("rotates another role's key with a token, ?role= and update", async () => {
      const alice = await new Client(server.url, "acme").login("alice", aliceKey);
      const res = await alice.request("PUT", `/authn/acme/api_key?role=user:bob`);
      expect(res.status).to.equal(200);
      expect((await authenticate("bob", res.text)).status).to.equal(200);
    });

    it("answers 403 without update, 404 for an invisible role, 405 for a non-user/host role", async () => {
      const alice = await new Client(server.url, "acme").login("alice", aliceKey);
      expect((await alice.request("PUT", `/authn/acme/api_key?role=host:ci/runner`)).status).to.equal(404);
      expect((await alice.request("PUT", `/authn/acme/api_key?role=group:ops`)).status).to.equal(405);
      const bob = await new Client(server.url, "acme").login("alice", aliceKey);
      expect((await bob.request("PUT", `/authn/acme/api_key?role=user:nobody`)).status).to.equal(404);
      const runner = await new Client(server.url, "acme").login("host/ci/runner", hostKey);
      expect((await runner.request("PUT", `/authn/acme/api_key?role=user:alice`)).status).to.equal(404);
    });

    it("refuses Basic auth with another ?role=", async () => {
      expect(
        (
          await admin.request("PUT", `/authn/acme/api_key?role=user:bob`, {
            headers: basic("alice", aliceKey),
            auth: false,
          })
        ).status,
      ).to.equal(401);
    });
  });

  describe("metrics (after the tests above)", () => {
    it("counts authn successes and failures", async () => {
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).to.match(/strongroom_authn_total\{outcome="success"\} \d+/);
      expect(metrics).to.match(/strongroom_authn_total\{outcome="failure"\} \d+/);
    });
  });
});
