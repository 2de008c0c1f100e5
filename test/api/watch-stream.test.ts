import { expect } from "chai";
import http from "node:http";
import net from "node:net";
import { Client, fq } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

/** A stream as a client reads it: status, content type, each line (parsed) and when the response ended. */
interface Stream {
  status: number;
  type: string | undefined;
  lines: { changed: boolean; cursor: string }[];
  ended: Promise<void>;
  close(): void;
}

function openStream(url: string, token: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Authorization: `Token token="${token}"` } }, (res) => {
      const stream: Stream = {
        status: res.statusCode ?? 0,
        type: res.headers["content-type"],
        lines: [],
        ended: new Promise((ok) => res.on("close", ok)),
        close: () => req.destroy(),
      };
      let buffered = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffered += chunk;
        for (let at = buffered.indexOf("\n"); at >= 0; at = buffered.indexOf("\n")) {
          stream.lines.push(JSON.parse(buffered.slice(0, at)) as { changed: boolean; cursor: string });
          buffered = buffered.slice(at + 1);
        }
      });
      res.on("error", () => undefined);
      resolve(stream);
    });
    req.on("error", reject);
  });
}

const until = async (condition: () => boolean, ms = 5_000): Promise<void> => {
  for (let waited = 0; waited < ms && !condition(); waited += 25) await new Promise((ok) => setTimeout(ok, 25));
};

describe("secrets: the change stream as one response (GET /secrets/watch?stream=true)", () => {
  let server: TestServer;
  let admin: Client;
  let reader: Client;
  const id = (name: string): string => fq(server.account, name);
  const url = (names: string[], query = ""): string =>
    `${server.url}/secrets/watch?variable_ids=${encodeURIComponent(names.map(id).join(","))}&stream=true${query}`;
  const hub = () => server.services.watchHub!;

  before(async () => {
    server = await startTestServer({ flags: { "max-watchers": "1000" } });
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    const loaded = await admin.loadPolicy(
      "POST",
      "root",
      `
- !variable a
- !variable b
- !variable c
- !variable hidden
- !host reader
- !permit { role: !host reader, privilege: [read, execute], resources: [!variable a, !variable b, !variable c] }
`,
    );
    reader = await new Client(server.url, server.account).login(
      "host/reader",
      loaded.json().created_roles[fq(server.account, "reader", "host")].api_key,
    );
    for (const name of ["a", "b", "c", "hidden"]) await admin.setSecret(name, `${name}-v1`);
  });
  after(() => server.close());

  it("tells every follower each change on the same response: one statement per wave, no request per answer", async () => {
    const { cursor } = (
      await reader.request("GET", `/secrets/watch?variable_ids=${encodeURIComponent(id("a"))}`)
    ).json();
    const streams = await Promise.all(
      Array.from({ length: 100 }, () => openStream(url(["a"], `&cursor=${cursor}&timeout=60`), reader.token!)),
    );
    await until(() => hub().watchers === 100);
    expect(hub().watchers).to.equal(100);
    for (const s of streams) {
      expect(s.status).to.equal(200);
      expect(s.type).to.equal("application/x-ndjson; charset=utf-8");
    }
    const checks = hub().requestChecks;
    for (const round of [1, 2]) {
      const statements = hub().statements;
      await admin.setSecret("a", `a-v${round + 1}`);
      await until(() => streams.every((s) => s.lines.length === round));
      const next = streams[0]!.lines[round - 1]!;
      expect(next.changed).to.equal(true);
      for (const s of streams) expect(s.lines, "each follower told once per change").to.deep.equal(streams[0]!.lines);
      expect(hub().statements - statements, "one statement for the wave").to.equal(1);
      expect(hub().watchers, "still following: nothing to re-arm").to.equal(100);
    }
    expect(streams[0]!.lines[0]!.cursor).to.not.equal(streams[0]!.lines[1]!.cursor);
    expect(hub().requestChecks, "no request, so no request check, per answer").to.equal(checks);
    for (const s of streams) s.close();
    await until(() => hub().watchers === 0);
    expect(hub().watchers, "a client that goes frees its watch").to.equal(0);
  });

  it("starts with the current cursor when the caller's is stale or absent, then beats every `timeout` seconds", async () => {
    const s = await openStream(url(["b"], "&timeout=1"), reader.token!);
    await until(() => s.lines.length >= 3, 6_000);
    s.close();
    const [first, ...beats] = s.lines;
    expect(first!.changed).to.equal(true);
    expect(beats.length).to.be.at.least(2);
    for (const beat of beats) expect(beat).to.deep.equal({ changed: false, cursor: first!.cursor });
  });

  it("frames its lines as chunks for HTTP/1.1, and sends them plain to an HTTP/1.0 client", async () => {
    const raw = (version: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = net.connect(Number(new URL(server.url).port), "127.0.0.1");
        let text = "";
        socket.on("data", (chunk) => (text += chunk.toString()));
        socket.on("error", reject);
        setTimeout(() => (socket.destroy(), resolve(text)), 2_500);
        const path = url(["a"], "&timeout=1").slice(server.url.length);
        socket.write(`GET ${path} ${version}\r\nHost: x\r\nAuthorization: Token token="${reader.token}"\r\n\r\n`);
      });
    const [chunked, plain] = await Promise.all([raw("HTTP/1.1"), raw("HTTP/1.0")]);
    // Pipelined behind a held long-poll on the same connection: the stream waits for it, whole.
    const longPoll = `/secrets/watch?variable_ids=${encodeURIComponent(id("a"))}&timeout=1`;
    const { cursor } = (await reader.request("GET", longPoll)).json();
    const pipelined = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(server.url).port), "127.0.0.1");
      let text = "";
      socket.on("data", (chunk) => (text += chunk.toString()));
      socket.on("error", reject);
      setTimeout(() => (socket.destroy(), resolve(text)), 4_500);
      const auth = `Authorization: Token token="${reader.token}"`;
      const stream = url(["a"], "&timeout=1").slice(server.url.length);
      socket.write(
        `GET ${longPoll}&cursor=${cursor} HTTP/1.1\r\nHost: x\r\n${auth}\r\n\r\nGET ${stream} HTTP/1.1\r\nHost: x\r\n${auth}\r\n\r\n`,
      );
    });
    const line = /\{"changed":(true|false),"cursor":"[^"]+"\}\n/.source;
    expect(chunked).to.match(/transfer-encoding: chunked/i);
    expect(chunked).to.match(new RegExp(`\r\n\r\n([0-9a-f]+\r\n${line}\r\n){2,}`));
    expect(plain).to.not.match(/transfer-encoding/i);
    expect(plain).to.match(new RegExp(`\r\n\r\n(${line}){2,}`));
    const [first, second] = pipelined.split(/(?=HTTP\/1\.1 200)/);
    expect(first).to.match(/content-length: \d+\r\n/i);
    expect(first).to.match(/\r\n\r\n\{"changed":false,"cursor":"[^"]+"\}$/);
    expect(second).to.match(new RegExp(`\r\n\r\n([0-9a-f]+\r\n${line}\r\n){2,}`));
  });

  it("refuses before the first byte as a long-poll does (403, 422), never 5xx", async () => {
    expect((await reader.request("GET", `/secrets/watch?variable_ids=${id("hidden")}&stream=true`)).status).to.equal(
      403,
    );
    expect((await reader.request("GET", `/secrets/watch?variable_ids=${id("a")}&stream=yes`)).status).to.equal(422);
    // Every other spelling is refused before any statement: only true and false mean something.
    for (const value of ["", "TRUE", "1", "%00", "true%00", "x".repeat(5000), "%F0%9F%92%A9"])
      expect(
        (await reader.request("GET", `/secrets/watch?variable_ids=${id("a")}&stream=${value}`)).status,
        `stream=${value.slice(0, 20)}`,
      ).to.equal(422);
  });

  it("a follower whose permission is revoked is told nothing: its stream ends, and the next request gets 403", async () => {
    const s = await openStream(url(["c"], "&timeout=60"), reader.token!);
    await until(() => s.lines.length === 1);
    const cursor = s.lines[0]!.cursor;
    await admin.loadPolicy(
      "PATCH",
      "root",
      "- !deny { role: !host reader, privilege: [read, execute], resource: !variable c }",
    );
    await admin.setSecret("c", "c-v2");
    await s.ended;
    expect(s.lines, "no line after the revocation").to.have.length(1);
    const again = await reader.request("GET", `/secrets/watch?variable_ids=${id("c")}&stream=true&cursor=${cursor}`);
    expect(again.status).to.equal(403);
    expect(again.text).to.not.include(cursor);
  });
});

describe("secrets: a change stream ends when the caller's token expires", () => {
  let server: TestServer;
  after(() => server.close());

  it("ends the response at the token's expiry, so that the client comes back with a fresh token", async () => {
    server = await startTestServer({ tokenTtl: 2 });
    const admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    await admin.loadPolicy("POST", "root", "- !variable d");
    await admin.setSecret("d", "d-v1");
    const started = Date.now();
    const path = `${server.url}/secrets/watch?variable_ids=${encodeURIComponent(fq(server.account, "d"))}&stream=true&timeout=60`;
    const s = await openStream(path, admin.token!);
    await s.ended;
    expect(s.status).to.equal(200);
    expect(Date.now() - started).to.be.below(5_000);
    expect(s.lines.at(-1)!.changed).to.equal(false);
    expect(server.services.watchHub!.watchers).to.equal(0);
  });
});
