import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCliServer } from "../support/cli-server.js";

/**
 * SIGTERM as Kubernetes sends it: with --shutdown-delay the server leaves the Service (GET /ready
 * answers 503) but keeps answering for the delay, so a client routed to it just before the
 * endpoint update still gets an answer, not a reset connection. Then it drains and exits 0.
 */
describe("strongroom server: SIGTERM with --shutdown-delay", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "strongroom-stop-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("answers /ready 503 and still serves requests during the delay, then exits 0", async () => {
    const server = await startCliServer(["--data-dir", dir, "--shutdown-delay", "2"]);
    const key = (await server.waitFor(/API key for admin: (\S+)/))[1]!;
    const url = `http://127.0.0.1:${server.port}`;
    expect((await fetch(`${url}/ready`)).status).to.equal(200);

    const sentAt = Date.now();
    const exited = server.stop();
    await server.waitFor(/shutting down: \/ready is 503, still serving/);
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).to.equal(503);
    expect(await ready.json()).to.deep.equal({ status: "unavailable", reason: "shutting down" });
    expect((await fetch(`${url}/health`)).status).to.equal(200);
    const authn = await fetch(`${url}/authn/default/admin/authenticate`, { method: "POST", body: key });
    expect(authn.status).to.equal(200);

    expect(await exited).to.equal(0);
    expect(Date.now() - sentAt).to.be.at.least(2000);
    expect(server.output()).to.match(/shutting down: draining requests/);
  });

  it("stops at once on SIGTERM without the delay (the default)", async () => {
    const server = await startCliServer(["--data-dir", dir]);
    const url = `http://127.0.0.1:${server.port}`;
    expect((await fetch(`${url}/ready`)).status).to.equal(200);
    expect(await server.stop()).to.equal(0);
    expect(server.output()).to.not.match(/still serving/);
    const refused = await fetch(`${url}/health`).then(
      () => "answered",
      () => "refused",
    );
    expect(refused).to.equal("refused");
  });
});
