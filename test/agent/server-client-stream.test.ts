import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ServerClient, ServerError } from "../../src/agent/server-client.js";

/**
 * The agent reads the change stream from a server it does not trust with its memory: a
 * stream that never ends a line, or whose lines are not `{changed, cursor}`, is refused
 * (ServerError: the agent backs off and keeps its files) instead of being buffered or used.
 */
describe("agent: a hostile change stream is refused, not buffered", () => {
  let server: http.Server;
  let url: string;
  let streamBody: (res: http.ServerResponse) => void = () => undefined;

  before(async () => {
    server = http.createServer((req, res) => {
      if (req.method === "POST") return void res.writeHead(200).end("token");
      res.writeHead(200, { "Content-Type": "application/x-ndjson" });
      streamBody(res);
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
  });

  const client = (): ServerClient => {
    const tokenFile = join(mkdtempSync(join(tmpdir(), "agent-stream-")), "token");
    writeFileSync(tokenFile, "jwt");
    return new ServerClient({ url, account: "a", authenticator: "authn-kubernetes", login: undefined, tokenFile });
  };
  const follow = async (body: (res: http.ServerResponse) => void): Promise<{ err: unknown; events: number }> => {
    streamBody = body;
    const c = client();
    let events = 0;
    let err: unknown;
    try {
      await c.follow(["v"], undefined, 30, async () => void events++);
    } catch (e) {
      err = e;
    } finally {
      c.close();
    }
    return { err, events };
  };

  it("a line that never ends (1 MiB without a newline)", async () => {
    const { err } = await follow((res) => {
      for (let i = 0; i < 16; i++) res.write("x".repeat(64 * 1024));
    });
    expect(err).to.be.instanceOf(ServerError);
    expect((err as Error).message).to.match(/longer than 64 KiB/);
  });

  it("lines that are JSON but not {changed, cursor}, after a good one", async () => {
    const { err, events } = await follow((res) => {
      res.write('{"changed":true,"cursor":"c1"}\n');
      res.write('{"changed":"yes","cursor":{"$gt":""}}\n');
    });
    expect(events).to.equal(1);
    expect(err).to.be.instanceOf(ServerError);
    expect((err as Error).message).to.match(/not \{changed, cursor\}/);
  });

  it("a line that is not JSON", async () => {
    const { err } = await follow((res) => res.write("<html>\n"));
    expect(err).to.be.instanceOf(ServerError);
    expect((err as Error).message).to.match(/not JSON/);
  });
});
