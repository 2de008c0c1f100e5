import { expect } from "chai";
import { Client } from "../support/client.js";
import { rawRequest } from "../support/raw-request.js";
import { startTestServer, type TestServer } from "../support/server.js";

const b64 = (s: string | Buffer): string => Buffer.from(s).toString("base64");
/** A token in Conjur's serialisation with the given parts, as the Authorization header carries it. */
const forged = (parts: Record<string, unknown>): Record<string, string> => ({
  Authorization: `Token token="${b64(JSON.stringify(parts))}"`,
});
const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

/** 9 levels of 10 aliases: 10^9 nodes once expanded, 500 bytes as written. */
function aliasBomb(): string {
  let text = "- &a0 !variable x\n";
  for (let level = 1; level < 9; level++)
    text += `- &a${level} [${Array(10)
      .fill(`*a${level - 1}`)
      .join(", ")}]\n`;
  return text;
}

describe("hostile input: bounded, 4xx, never a 500", () => {
  let server: TestServer;
  let admin: Client;
  let host: Client;
  const account = "hostile";

  before(async () => {
    server = await startTestServer({ account });
    admin = await new Client(server.url, account).login("admin", server.adminKey);
    const res = await admin.loadPolicy("POST", "root", "- !host plain\n- !variable v\n");
    host = await new Client(server.url, account).login(
      "host/plain",
      res.json().created_roles[`${account}:host:plain`].api_key,
    );
    await admin.setSecret("v", "value");
  });
  after(() => server.close());

  describe("policy documents", () => {
    it("refuses an alias bomb from a host that may load no policy (404: it cannot see root), before parsing", async () => {
      const started = Date.now();
      const res = await host.loadPolicy("POST", "root", aliasBomb());
      expect(res.status).to.equal(404);
      expect(Date.now() - started).to.be.below(2000);
    });

    it("answers an alias bomb from the admin with a 422 naming the bound, while /health keeps answering", async () => {
      const load = admin.loadPolicy("POST", "root", aliasBomb());
      const health = await rawRequest(server.url, "GET", "/health", { timeoutMs: 2000 });
      expect(health.status).to.equal(200);
      const res = await load;
      expect(res.status).to.equal(422);
      expect(res.json().error.code).to.equal("policy_invalid");
      expect(res.json().error.message).to.match(/aliases expand too far/);
    });

    it("stops an alias bomb inside one statement at the node budget", async () => {
      let text =
        "- !permit\n  role: !host plain\n  resource: !variable v\n  privileges: &p0 [read, read, read, read, read, read, read, read, read, read]\n";
      for (let level = 1; level < 8; level++)
        text += `- !permit\n  role: !host plain\n  resource: !variable v\n  privileges: &p${level} [${Array(10)
          .fill(`*p${level - 1}`)
          .join(", ")}]\n`;
      const res = await admin.loadPolicy("POST", "root", text);
      expect(res.status).to.equal(422);
      expect(res.json().error.message).to.match(/aliases expand too far \(more than 200000 nodes\)/);
    });

    it("refuses a self-referencing alias and deep nesting with a 422", async () => {
      const selfRef = await admin.loadPolicy("POST", "root", "- &a [ !variable x, *a ]\n");
      expect(selfRef.status).to.equal(422);
      const deep = await admin.loadPolicy("POST", "root", `${"[".repeat(40)}!variable x${"]".repeat(40)}\n`);
      expect(deep.status).to.equal(422);
      expect(deep.json().error.message).to.match(/nested more than 32 levels/);
    });

    it("bounds the statements of a flat policy by the body limit (413), not by a count of its own", async () => {
      const res = await admin.loadPolicy("POST", "root", "- !variable x\n".repeat(80_000));
      expect(res.status).to.equal(413);
    });

    it("refuses an incompressible 10,000-character id, a long annotation name and a long privilege with 422 and a line", async () => {
      const long = Array.from({ length: 10_000 }, (_, i) => String.fromCharCode(97 + ((i * 7919) % 26))).join("");
      for (const text of [
        `- !variable ${long}\n`,
        `- !variable\n  id: x\n  annotations:\n    ${"n".repeat(300)}: v\n`,
        `- !permit { role: !host plain, privilege: ${"p".repeat(100)}, resource: !variable v }\n`,
      ]) {
        const res = await admin.loadPolicy("POST", "root", text);
        expect(res.status, text.slice(0, 40)).to.equal(422);
        expect(res.json().error.innererror.line).to.be.a("number");
      }
    });

    it("refuses a NUL written as a YAML escape, in an id and in an annotation", async () => {
      for (const text of ['- !variable "a\\0b"\n', '- !variable\n  id: x\n  annotations:\n    k: "v\\0"\n']) {
        const res = await admin.loadPolicy("POST", "root", text);
        expect(res.status).to.equal(422);
        expect(res.json().error.message).to.match(/NUL/);
      }
    });

    it("refuses a policy id containing NUL", async () => {
      const res = await admin.request("POST", `/policies/${account}/policy/a%00b`, { body: "- !variable x\n" });
      expect(res.status).to.equal(422);
    });
  });

  describe("NUL bytes in ids, names and queries", () => {
    const cases: [string, string, Record<string, string>?][] = [
      ["POST", `/authn/${account}/a%00b/authenticate`],
      ["POST", `/authn/${account}%00/admin/authenticate`],
      ["GET", `/authn/${account}/login`, { Authorization: `Basic ${b64("a\0b:secret")}` }],
      ["PUT", `/authn/${account}/api_key`, { Authorization: `Basic ${b64("a\0b:secret")}` }],
      ["GET", `/secrets/${account}/variable/a%00b`],
      ["GET", `/secrets?variable_ids=${account}:variable:a%00b`],
      ["GET", `/resources/${account}?search=%00`],
      ["GET", `/roles/${account}/user/a%00`],
      ["GET", `/resources/${account}/variable/v?check=true&privilege=%00`],
    ];
    for (const [method, path, headers] of cases) {
      it(`${method} ${path} is a 4xx`, async () => {
        const res = await rawRequest(server.url, method, path, {
          headers: headers ?? { Authorization: `Token token="${admin.token}"` },
          body: "key",
        });
        expect(res.status, res.body.toString()).to.be.within(400, 499);
      });
    }
  });

  describe("numbers and lengths", () => {
    for (const offset of ["99999999999999999999", "9223372036854775807", "1000000001"]) {
      it(`offset=${offset} is a 422`, async () => {
        const res = await admin.request("GET", `/resources/${account}?offset=${offset}`);
        expect(res.status).to.equal(422);
      });
    }

    it("a 2,000-character variable id in a URL is a 422, a batch of them too", async () => {
      const long = "x".repeat(2000);
      expect((await admin.getSecret(long)).status).to.equal(422);
      expect((await admin.request("GET", `/secrets/${account}/variable/v?version=99999999999`)).status).to.equal(422);
    });

    it("more query parameters than the bound is a 422", async () => {
      const query = Array.from({ length: 65 }, (_, i) => `p${i}=1`).join("&");
      expect((await admin.request("GET", `/resources/${account}?${query}`)).status).to.equal(422);
    });
  });

  describe("forged tokens are 401 without authentication", () => {
    const kid = "0".repeat(64);
    const tokens: [string, Record<string, string>][] = [
      [
        "a kid with a NUL",
        forged({
          protected: b64url({ alg: "strongroom.io/hs256/v1", kid: "a\0b" }),
          payload: b64url({ sub: "admin", iat: 1 }),
          signature: "x",
        }),
      ],
      [
        "protected is JSON null",
        forged({ protected: Buffer.from("null").toString("base64url"), payload: b64url({}), signature: "x" }),
      ],
      [
        "payload is JSON null",
        forged({
          protected: b64url({ alg: "strongroom.io/hs256/v1", kid }),
          payload: Buffer.from("null").toString("base64url"),
          signature: "x",
        }),
      ],
      ["the token is a JSON array", { Authorization: `Token token="${b64("[1,2]")}"` }],
      ["the token is JSON null", { Authorization: `Token token="${b64("null")}"` }],
      ["parts are numbers", forged({ protected: 1, payload: 2, signature: 3 })],
      [
        "an unknown kid",
        forged({
          protected: b64url({ alg: "strongroom.io/hs256/v1", kid }),
          payload: b64url({ sub: "admin", iat: 1 }),
          signature: "AAAA",
        }),
      ],
      ["a 10 kB token", { Authorization: `Token token="${"A".repeat(10_000)}"` }],
    ];
    for (const [name, headers] of tokens) {
      it(name, async () => {
        const res = await rawRequest(server.url, "GET", `/resources/${account}`, { headers });
        expect(res.status).to.equal(401);
      });
    }
  });

  describe("token encoding", () => {
    it("issues padded base64url parts that a strict decoder accepts", async () => {
      const token = JSON.parse(Buffer.from(admin.token!, "base64").toString());
      for (const part of ["protected", "payload", "signature"]) {
        expect(token[part].length % 4, part).to.equal(0);
        const standard = token[part].replace(/-/g, "+").replace(/_/g, "/");
        expect(Buffer.from(Buffer.from(standard, "base64").toString("base64")).toString(), part).to.equal(standard);
      }
    });
  });
});
