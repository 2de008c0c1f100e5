import { expect } from "chai";
import net from "node:net";
import { readGrants } from "../../src/authz/cached-grants.js";
import { Client, fq } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

/**
 * Reads, API-key logins and change signals of one event-loop turn share one SQL statement
 * (storage/per-turn-loader.ts). Whatever one request carries must not fail or change the
 * answers of the others in its statement: every key that reaches a shared statement is a
 * bounded, NUL-free id (src/input/limits.ts), and arrays are sent as parameters. These
 * tests send hostile keys in the same turns as good ones.
 */
describe("shared statements: one request's input never fails the others of its turn", () => {
  let server: TestServer;
  let admin: Client;
  let host: Client;
  let apiKey: string;
  const account = "shared";
  // Ids that stress array-literal quoting and encoding: quotes, braces, backslashes, commas,
  // the word NULL, SQL, multi-byte UTF-8 (at the size limit), astral characters.
  const oddIds = [
    'q"uote',
    "back\\slash",
    "{braces}",
    "NULL",
    "'; DROP TABLE secrets; --",
    "é".repeat(512),
    "x".repeat(1024),
    "key 🔑 \u0001",
  ];

  before(async () => {
    server = await startTestServer({ account });
    admin = await new Client(server.url, account).login("admin", server.adminKey);
    const variables = ["good", ...oddIds].map((id) => `- !variable ${JSON.stringify(id)}`).join("\n");
    const res = await admin.loadPolicy(
      "POST",
      "root",
      `- !host app\n${variables}\n- !permit { role: !host app, privileges: [read, execute], resources: [${["good", ...oddIds].map((id) => `!variable ${JSON.stringify(id)}`).join(", ")}] }\n`,
    );
    expect(res.status).to.equal(201);
    apiKey = res.json().created_roles[fq(account, "app", "host")].api_key as string;
    host = await new Client(server.url, account).login("host/app", apiKey);
    for (const id of ["good", ...oddIds]) expect((await admin.setSecret(id, `value of ${id}`)).status).to.equal(201);
  });
  after(() => server.close());

  it("reads of odd ids (granted, so they take the shared statement) and good reads in the same turns all get their own values", async () => {
    for (let round = 0; round < 2; round++) {
      const ids = Array.from({ length: 40 }, (_, i) => (i % 2 ? "good" : oddIds[(i >> 1) % oddIds.length]!));
      const answers = await Promise.all(ids.map((id) => host.getSecret(id)));
      expect(answers.map((res) => res.status)).to.deep.equal(ids.map(() => 200));
      expect(answers.map((res) => res.text)).to.deep.equal(ids.map((id) => `value of ${id}`));
      // After the first round every read is granted, so the second takes the shared statement.
      for (const id of oddIds)
        expect(readGrants.get(fq(account, "app", "host"), fq(account, id)), id).to.not.equal(undefined);
    }
  });

  it("answers pipelined reads parsed in one turn with ONE value statement, each with its own value", async () => {
    const pool = server.services.pool;
    const query = pool.query.bind(pool);
    let shared = 0;
    pool.query = ((config: { name?: string }, ...rest: unknown[]) => {
      if (config?.name === "secret-latest-values") shared++;
      return (query as (...args: unknown[]) => unknown)(config, ...rest);
    }) as typeof pool.query;
    try {
      const ids = ["good", ...oddIds.slice(0, 5)];
      // One write of several requests: Node parses them in one I/O callback, so their reads join.
      const text = ids
        .map(
          (id) =>
            `GET /secrets/${account}/variable/${encodeURIComponent(id)} HTTP/1.1\r\nHost: x\r\nAuthorization: Token token="${host.token}"\r\n\r\n`,
        )
        .join("");
      const bodies = await pipelined(new URL(server.url), text, ids.length);
      expect(bodies).to.deep.equal(ids.map((id) => `value of ${id}`));
      expect(shared).to.equal(1);
    } finally {
      pool.query = query;
    }
  });

  it("API-key logins with hostile names in the same turns as good ones: the good ones all succeed, no 5xx", async () => {
    const hostile = [
      ...oddIds,
      "x".repeat(1025),
      "é".repeat(600),
      "host/\u0000x",
      "host/" + "y".repeat(5000),
      "user/../../admin",
    ];
    const attempts = Array.from({ length: 60 }, (_, i) =>
      i % 3 === 0 ? { login: "host/app", key: apiKey } : { login: hostile[i % hostile.length]!, key: "not-a-key" },
    );
    const answers = await Promise.all(
      attempts.map(({ login, key }) =>
        new Client(server.url, account).request("POST", `/authn/${account}/${encodeURIComponent(login)}/authenticate`, {
          body: key,
          auth: false,
        }),
      ),
    );
    attempts.forEach(({ login }, i) => {
      const status = answers[i]!.status;
      if (login === "host/app") expect(status, login).to.equal(200);
      else expect(status, login).to.be.oneOf([401, 422]);
    });
  });
});

/** Sends `text` (several pipelined requests) on one connection and returns the bodies of the first `count` answers. */
function pipelined(url: URL, text: string, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => socket.write(text));
    let received = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const bodies: string[] = [];
      let rest = received;
      while (bodies.length < count) {
        const end = rest.indexOf("\r\n\r\n");
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(rest.subarray(0, end).toString())?.[1] ?? 0);
        if (rest.length < end + 4 + length) return;
        bodies.push(rest.subarray(end + 4, end + 4 + length).toString());
        rest = rest.subarray(end + 4 + length);
      }
      socket.destroy();
      resolve(bodies);
    });
    socket.on("error", reject);
  });
}
