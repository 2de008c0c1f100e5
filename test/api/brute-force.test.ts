import { expect } from "chai";
import http from "node:http";
import { Client } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** POST authenticate from a chosen loopback source address (127.0.0.x all reach the server). */
function authenticateFrom(
  server: TestServer,
  localAddress: string,
  login: string,
  key: string,
  path = `/authn/${server.account}/${encodeURIComponent(login)}/authenticate`,
): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${server.url}${path}`);
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: "POST", localAddress },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode!, retryAfter: res.headers["retry-after"], body }));
      },
    );
    req.on("error", reject);
    req.end(key);
  });
}

const throttledCount = async (server: TestServer, reason: string): Promise<number> => {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(
    new RegExp(`^strongroom_authn_throttled_total\\{reason="${reason}"\\} (\\d+)`, "m").exec(text)?.[1] ?? 0,
  );
};

describe("brute-force protection", () => {
  const WINDOW_SECONDS = 2;

  describe("per role (3 failures per 2 s window)", () => {
    const logLines: string[] = [];
    let server: TestServer;
    let keys: Record<string, string>;
    const authenticate = (login: string, key: string) => authenticateFrom(server, "127.0.0.1", login, key);
    const audits = (): any[] => logLines.map((l) => JSON.parse(l)).filter((l) => l.audit === true);

    before(async () => {
      server = await startTestServer({
        account: "bf",
        logLines,
        flags: {
          "authn-max-failures": "3",
          "authn-max-failures-per-address": "1000",
          "authn-failure-window": String(WINDOW_SECONDS),
        },
      });
      const admin = await new Client(server.url, "bf").login("admin", server.adminKey);
      const roles = (
        await admin.loadPolicy("POST", "root", "- !user alice\n- !user bob\n- !user carol\n- !user dave\n")
      ).json().created_roles;
      keys = Object.fromEntries(["alice", "bob", "carol", "dave"].map((u) => [u, roles[`bf:user:${u}`].api_key]));
    });
    after(() => server.close());

    it("answers 429 with Retry-After after 3 failures, without checking even the right key, until the window passes", async () => {
      for (let i = 0; i < 3; i++) expect((await authenticate("alice", "wrong")).status).to.equal(401);
      const refused = await authenticate("alice", keys.alice!);
      expect(refused.status).to.equal(429);
      expect(Number(refused.retryAfter)).to.be.within(1, WINDOW_SECONDS);
      expect(JSON.parse(refused.body).error.code).to.equal("too_many_requests");
      expect((await authenticate("bob", keys.bob!)).status, "another role is not affected").to.equal(200);
      await sleep(WINDOW_SECONDS * 1000 + 200);
      expect((await authenticate("alice", keys.alice!)).status).to.equal(200);
    });

    it("throttles a role that does not exist exactly like one that does (a 429 reveals nothing)", async () => {
      for (let i = 0; i < 3; i++) expect((await authenticate("ghost", "wrong")).status).to.equal(401);
      expect((await authenticate("ghost", "wrong")).status).to.equal(429);
    });

    it("lets a success reset the role's count", async () => {
      for (let i = 0; i < 2; i++) await authenticate("carol", "wrong");
      expect((await authenticate("carol", keys.carol!)).status).to.equal(200);
      for (let i = 0; i < 2; i++) expect((await authenticate("carol", "wrong")).status).to.equal(401);
      expect((await authenticate("carol", keys.carol!)).status).to.equal(200);
    });

    it("throttles Basic-auth login and password change the same way", async () => {
      const basic = (secret: string) => ({ auth: false, headers: { Authorization: `Basic ${b64(`dave:${secret}`)}` } });
      const client = new Client(server.url, "bf");
      for (let i = 0; i < 3; i++)
        expect((await client.request("GET", "/authn/bf/login", basic("wrong"))).status).to.equal(401);
      expect((await client.request("GET", "/authn/bf/login", basic(keys.dave!))).status).to.equal(429);
      const password = await client.request("PUT", "/authn/bf/password", {
        ...basic(keys.dave!),
        body: "Str0ng-Passw0rd!!",
      });
      expect(password.status).to.equal(429);
    });

    it("writes an audit line for each throttled attempt, naming the counter but no secret", () => {
      const throttled = audits().filter((e) => e.reason === "429 throttled by role");
      expect(throttled.map((e) => [e.action, e.role])).to.deep.include.members([
        ["authenticate", "bf:user:alice"],
        ["login", "bf:user:dave"],
        ["set-password", "bf:user:dave"],
      ]);
      expect(logLines.join("\n")).to.not.contain(keys.alice!);
    });

    it("counts throttled attempts in strongroom_authn_throttled_total by counter, with no role label", async () => {
      expect(await throttledCount(server, "role")).to.equal(4);
      const text = await (await fetch(`${server.url}/metrics`)).text();
      expect(text).to.not.match(/strongroom_authn_throttled_total\{[^}]*bf:user/);
    });
  });

  describe("per client address (5 failures per 2 s window, across any roles)", () => {
    let server: TestServer;
    let aliceKey: string;

    before(async () => {
      server = await startTestServer({
        account: "bfa",
        flags: {
          "authn-max-failures": "1000",
          "authn-max-failures-per-address": "5",
          "authn-failure-window": String(WINDOW_SECONDS),
        },
      });
      const admin = await new Client(server.url, "bfa").login("admin", server.adminKey);
      aliceKey = (await admin.loadPolicy("POST", "root", "- !user alice\n")).json().created_roles["bfa:user:alice"]
        .api_key;
    });
    after(() => server.close());

    it("refuses an address that sprayed 5 roles, serves other addresses, and releases it after the window", async () => {
      for (let i = 0; i < 5; i++)
        expect((await authenticateFrom(server, "127.0.0.2", `user${i}`, "guess")).status).to.equal(401);
      const refused = await authenticateFrom(server, "127.0.0.2", "alice", aliceKey);
      expect(refused.status).to.equal(429);
      expect(refused.retryAfter).to.match(/^\d+$/);
      expect((await authenticateFrom(server, "127.0.0.3", "alice", aliceKey)).status).to.equal(200);
      expect(await throttledCount(server, "address")).to.equal(1);
      await sleep(WINDOW_SECONDS * 1000 + 200);
      expect((await authenticateFrom(server, "127.0.0.2", "alice", aliceKey)).status).to.equal(200);
    });

    it("counts failed authn-jwt and authn-kubernetes attempts against the address too, as every POST …/authenticate", async () => {
      const jwt = `/authn-jwt/k8s/${server.account}/authenticate`;
      const sa = `/authn-kubernetes/${server.account}/authenticate`;
      for (let i = 0; i < 3; i++)
        expect((await authenticateFrom(server, "127.0.0.4", "", "jwt=not.a.token", jwt)).status).to.be.within(400, 499);
      for (let i = 0; i < 2; i++)
        expect((await authenticateFrom(server, "127.0.0.4", "", "not-a-token", sa)).status).to.be.within(400, 499);
      expect((await authenticateFrom(server, "127.0.0.4", "", "jwt=not.a.token", jwt)).status).to.equal(429);
      expect(
        (await authenticateFrom(server, "127.0.0.4", "alice", aliceKey)).status,
        "the same address, any authenticator",
      ).to.equal(429);
      expect(
        (await authenticateFrom(server, "127.0.0.5", "", "jwt=not.a.token", jwt)).status,
        "other addresses unaffected",
      ).to.not.equal(429);
    });
  });
});
