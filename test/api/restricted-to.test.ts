import { expect } from "chai";
import http from "node:http";
import { Client } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

interface Answer {
  status: number;
  body: string;
}

/** A request from a chosen loopback source address (127.0.0.x all reach the server), with chosen headers. */
function requestFrom(
  server: TestServer,
  localAddress: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(server.url + path);
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        headers,
        localAddress,
        agent: false,
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("restricted_to and the client address", () => {
  let server: TestServer;
  let admin: Client;
  let keys: Record<string, string>;
  const authenticate = (from: string, login: string, xff?: string): Promise<Answer> =>
    requestFrom(
      server,
      from,
      "POST",
      `/authn/rt/${encodeURIComponent(login)}/authenticate`,
      { "Accept-Encoding": "base64", ...(xff ? { "X-Forwarded-For": xff } : {}) },
      keys[login],
    );

  before(async () => {
    server = await startTestServer({ account: "rt" });
    admin = await new Client(server.url, "rt").login("admin", server.adminKey);
    const res = await admin.loadPolicy(
      "POST",
      "root",
      `
- !host { id: office, restricted_to: 10.0.0.0/24 }
- !host { id: single, restricted_to: [192.168.101.1, "2001:db8::/32"] }
- !user { id: carol, restricted_to: [10.0.0.0/24] }
- !host anywhere
`,
    );
    expect(res.status, res.text).to.equal(201);
    const created = res.json().created_roles;
    keys = {
      "host/office": created["rt:host:office"].api_key,
      "host/single": created["rt:host:single"].api_key,
      carol: created["rt:user:carol"].api_key,
      "host/anywhere": created["rt:host:anywhere"].api_key,
    };
  });
  after(() => server.close());

  it("stores the CIDRs normalised and shows them on the resource", async () => {
    expect((await admin.request("GET", "/resources/rt/host/single")).json().restricted_to).to.deep.equal([
      "192.168.101.1/32",
      "2001:db8::/32",
    ]);
    expect((await admin.request("GET", "/resources/rt/host/office")).json().restricted_to).to.deep.equal([
      "10.0.0.0/24",
    ]);
    expect((await admin.request("GET", "/resources/rt/host/anywhere")).json().restricted_to).to.deep.equal([]);
  });

  it("refuses an invalid address, and a range with host bits set, with Conjur's messages", async () => {
    const bad = await admin.loadPolicy("POST", "root", "- !host { id: x, restricted_to: 1.895.abc.0/32 }\n");
    expect(bad.status).to.equal(422);
    expect(bad.json().error.message).to.contain("Invalid IP address or CIDR range '1.895.abc.0/32'");
    const bits = await admin.loadPolicy("POST", "root", "- !host { id: x, restricted_to: 10.0.0.1/24 }\n");
    expect(bits.status).to.equal(422);
    expect(bits.json().error.message).to.contain(
      "Invalid IP address or CIDR range '10.0.0.1/24': Value has bits set to right of mask. Did you mean '10.0.0.0/24'?",
    );
  });

  it("issues a token through a local proxy (127.0.0.1) for an X-Forwarded-For client inside the range", async () => {
    const ok = await authenticate("127.0.0.1", "host/office", "10.0.0.7");
    expect(ok.status).to.equal(200);
    expect((await authenticate("127.0.0.1", "carol", "10.0.0.200")).status).to.equal(200);
    expect((await authenticate("127.0.0.1", "host/single", "192.168.101.1")).status).to.equal(200);
    expect((await authenticate("127.0.0.1", "host/single", "2001:db8::5")).status).to.equal(200);
  });

  it("answers 401 with an empty body outside the range, for users and hosts", async () => {
    for (const login of ["host/office", "carol"]) {
      const refused = await authenticate("127.0.0.1", login, "10.0.1.7");
      expect(refused.status).to.equal(401);
      expect(refused.body).to.equal("");
    }
    // No X-Forwarded-For: the client is the proxy itself.
    expect((await authenticate("127.0.0.1", "host/office")).status).to.equal(401);
  });

  it("takes the rightmost untrusted X-Forwarded-For entry, as Rack does", async () => {
    expect((await authenticate("127.0.0.1", "host/office", "10.0.0.7, 192.0.2.9")).status).to.equal(401);
    expect((await authenticate("127.0.0.1", "host/office", "192.0.2.9, 10.0.0.7")).status).to.equal(200);
    expect((await authenticate("127.0.0.1", "host/office", "10.0.0.7, 127.0.0.1")).status).to.equal(200);
    expect((await authenticate("127.0.0.1", "host/office", "10.0.0.7:4711")).status).to.equal(200);
  });

  it("ignores X-Forwarded-For from an address that is not a trusted proxy (127.0.0.2)", async () => {
    expect((await authenticate("127.0.0.2", "host/office", "10.0.0.7")).status).to.equal(401);
    expect((await authenticate("127.0.0.2", "host/anywhere", "10.0.0.7")).status).to.equal(200);
  });

  it("reports the same address in /whoami, and a token issued inside the range works from anywhere", async () => {
    const token = (await authenticate("127.0.0.1", "host/office", "10.0.0.7")).body;
    const auth = { Authorization: `Token token="${token}"` };
    expect(
      JSON.parse(
        (await requestFrom(server, "127.0.0.1", "GET", "/whoami", { ...auth, "X-Forwarded-For": "10.0.0.7" })).body,
      ).client_ip,
    ).to.equal("10.0.0.7");
    const elsewhere = await requestFrom(server, "127.0.0.2", "GET", "/whoami", {
      ...auth,
      "X-Forwarded-For": "10.0.0.7",
    });
    expect(elsewhere.status).to.equal(200);
    expect(JSON.parse(elsewhere.body).client_ip).to.equal("127.0.0.2");
  });

  it("bounds a huge X-Forwarded-For header and still answers by its rightmost entries", async () => {
    const xff = `${Array.from({ length: 400 }, (_, i) => `192.0.2.${i % 250}`).join(", ")}, junk, 10.0.0.9`;
    expect((await authenticate("127.0.0.1", "host/office", xff)).status).to.equal(200);
  });

  it("POST adds CIDRs, PATCH replaces them, PATCH without the attribute clears them", async () => {
    expect(
      (await admin.loadPolicy("POST", "root", "- !host { id: office, restricted_to: 172.16.0.0/12 }\n")).status,
    ).to.equal(201);
    expect((await admin.request("GET", "/resources/rt/host/office")).json().restricted_to).to.deep.equal([
      "10.0.0.0/24",
      "172.16.0.0/12",
    ]);
    expect((await authenticate("127.0.0.1", "host/office", "172.16.9.9")).status).to.equal(200);
    expect(
      (await admin.loadPolicy("PATCH", "root", "- !host { id: office, restricted_to: 172.16.0.0/12 }\n")).status,
    ).to.equal(201);
    expect((await admin.request("GET", "/resources/rt/host/office")).json().restricted_to).to.deep.equal([
      "172.16.0.0/12",
    ]);
    expect((await authenticate("127.0.0.1", "host/office", "10.0.0.7")).status).to.equal(401);
    expect((await admin.loadPolicy("PATCH", "root", "- !host office\n")).status).to.equal(201);
    expect((await authenticate("127.0.0.1", "host/office", "203.0.113.1")).status).to.equal(200);
  });

  describe("with --trusted-proxies", () => {
    let proxied: TestServer;
    before(async () => {
      proxied = await startTestServer({ account: "tp", flags: { "trusted-proxies": "127.0.0.2, 127.0.0.3/32" } });
    });
    after(() => proxied.close());

    it("believes X-Forwarded-For from a configured proxy", async () => {
      const admin2 = await new Client(proxied.url, "tp").login("admin", proxied.adminKey);
      const whoami = await requestFrom(proxied, "127.0.0.2", "GET", "/whoami", {
        Authorization: `Token token="${admin2.token}"`,
        "X-Forwarded-For": "10.9.8.7, 127.0.0.3",
      });
      expect(JSON.parse(whoami.body).client_ip).to.equal("10.9.8.7");
      const direct = await requestFrom(proxied, "127.0.0.4", "GET", "/whoami", {
        Authorization: `Token token="${admin2.token}"`,
        "X-Forwarded-For": "10.9.8.7",
      });
      expect(JSON.parse(direct.body).client_ip).to.equal("127.0.0.4");
    });
  });
});
