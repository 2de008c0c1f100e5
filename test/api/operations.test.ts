import { expect } from "chai";
import { Metrics } from "../../src/telemetry/metrics.js";
import { Client } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe("operations and error handling", () => {
  let server: TestServer;
  let admin: Client;

  before(async () => {
    server = await startTestServer({ account: "ops" });
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
  });
  after(() => server.close());

  it("answers /health and /ready", async () => {
    expect((await admin.request("GET", "/health", { auth: false })).json()).to.deep.equal({ status: "ok" });
    expect((await admin.request("GET", "/ready", { auth: false })).status).to.equal(200);
  });

  it("serves Prometheus metrics labelled by route template, never by id or value", async () => {
    await admin.loadPolicy("POST", "root", "- !variable metric/secret-id");
    await admin.setSecret("metric/secret-id", "value-that-must-not-leak");
    await admin.getSecret("metric/secret-id");
    const text = (await admin.request("GET", "/metrics", { auth: false })).text;
    expect(text).to.contain(
      'strongroom_http_requests_total{method="GET",route="/secrets/:account/:kind/*identifier",status="200"}',
    );
    expect(text).to.contain("strongroom_http_request_duration_seconds_bucket");
    expect(text).to.match(/strongroom_secrets_read_total 1/);
    expect(text).to.match(/strongroom_secrets_written_total 1/);
    expect(text).to.not.contain("secret-id");
    expect(text).to.not.contain("value-that-must-not-leak");
    for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) expect(line).to.match(/^strongroom_/);
  });

  it("keeps the process defaults a server exports, but none that lists every open handle on each scrape", async () => {
    // One handle per held watch: at 10,000 watches those made each scrape block for 80–100 ms.
    const text = await new Metrics().registry.metrics();
    expect(text).to.match(/^strongroom_process_open_fds \d+/m);
    expect(text).to.match(/^strongroom_nodejs_heap_size_used_bytes \d+/m);
    expect(text).to.not.match(/nodejs_active_(handles|resources)/);
  });

  it("answers unknown routes with a JSON 404", async () => {
    const res = await admin.request("GET", "/no/such/route");
    expect(res.status).to.equal(404);
    expect(res.json().error.code).to.equal("not_found");
  });

  it("answers an oversized body with 413 and writes nothing", async () => {
    await admin.loadPolicy("POST", "root", "- !variable big");
    const res = await admin.setSecret("big", Buffer.alloc(2 * 1024 * 1024, 1));
    expect(res.status).to.equal(413);
    expect(res.json().error.code).to.equal("payload_too_large");
    expect((await admin.getSecret("big")).status).to.equal(404);
  });

  it("echoes a well-formed X-Request-Id and makes one up otherwise", async () => {
    expect(
      (await admin.request("GET", "/health", { headers: { "X-Request-Id": "abc-123" } })).headers.get("x-request-id"),
    ).to.equal("abc-123");
    expect(
      (await admin.request("GET", "/health", { headers: { "X-Request-Id": "bad id!" } })).headers.get("x-request-id"),
    ).to.match(/^[0-9a-f-]{36}$/);
  });

  it("never answers malformed input with a 500", async () => {
    const probes: [string, string, string | undefined][] = [
      ["GET", "/secrets/ops/variable/%E0%A4%A", undefined],
      ["GET", "/resources/ops/variable/x?check=true&privilege=", undefined],
      ["POST", "/policies/ops/policy/root", "\u0000\u0001 !!binary"],
      ["POST", "/policies/ops/policy/root", "- !variable\n  id: [1, 2]"],
      ["POST", "/policies/ops/policy/root", "{a: 1}"],
      ["POST", "/policies/ops/policy/root", "- !permit { role: !user admin, privilege: [], resource: !variable big }"],
      ["GET", "/resources/ops/nonsense", undefined],
      ["GET", "/roles/ops/variable/big", undefined],
      ["PUT", "/authn/ops/api_key?role=::", undefined],
      ["GET", "/secrets?variable_ids[]=a", undefined],
    ];
    for (const [method, path, body] of probes) {
      const res = await admin.request(method, path, body === undefined ? {} : { body });
      expect(res.status, `${method} ${path}`).to.be.within(400, 499);
      if (res.text) expect(() => res.json(), `${method} ${path}`).to.not.throw();
      expect(res.text).to.not.match(/at .*\.ts:\d+/);
    }
  });
});
