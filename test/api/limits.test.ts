import { expect } from "chai";
import { Client, fq } from "../support/client.js";
import { rawRequest } from "../support/raw-request.js";
import { startTestServer, type TestServer } from "../support/server.js";

/** The limits users meet first: each is ours and documented, never Node's default. */
describe("limits users meet first: batches of 1,000, large policies", function () {
  this.timeout(120_000);
  let server: TestServer;
  let admin: Client;
  // Realistic ids that percent-encode long, as Conjur clients send them: about 58 bytes each.
  const names = Array.from(
    { length: 1_000 },
    (_, i) => `prod/eu-west/payments/db-${String(i).padStart(4, "0")}/password`,
  );
  const ids = (n: number) => names.slice(0, n).map((name) => fq(server.account, name));

  before(async () => {
    server = await startTestServer();
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    const policy = names.map((name) => `- !variable ${name}\n`).join("");
    expect((await admin.loadPolicy("POST", "root", policy)).status).to.equal(201);
    for (let i = 0; i < names.length; i += 50)
      await Promise.all(names.slice(i, i + 50).map((name) => admin.setSecret(name, `v-${name}`)));
  });
  after(() => server.close());

  it("answers a batch of 1,000 percent-encoded ids (a ~58 KB query), not 431", async () => {
    const query = ids(1000).map(encodeURIComponent).join(",");
    expect(query.length).to.be.above(50_000);
    const res = await admin.request("GET", `/secrets?variable_ids=${query}`);
    expect(res.status).to.equal(200);
    expect(Object.keys(res.json())).to.have.length(1000);
  });

  it("holds a watch of 1,000 ids, its own documented limit, instead of refusing it with 431", async () => {
    const res = await admin.request(
      "GET",
      `/secrets/watch?variable_ids=${ids(1000).map(encodeURIComponent).join(",")}&timeout=1`,
    );
    expect(res.status).to.be.oneOf([200, 204]);
  });

  it("refuses a batch past 1,000 ids with a 422 that names the bound", async () => {
    const res = await admin.request(
      "GET",
      `/secrets?variable_ids=${[...ids(1000), fq(server.account, "x")].map(encodeURIComponent).join(",")}`,
    );
    expect(res.status).to.equal(422);
    expect(res.json().error.message).to.contain("at most 1000 ids");
  });

  it("reads request lines up to its documented 256 KiB, and refuses longer ones (431, or a reset while still sending)", async () => {
    const within = await rawRequest(server.url, "GET", `/secrets?variable_ids=${"a".repeat(250 * 1024)}`, {
      timeoutMs: 5000,
      headers: { Authorization: `Token token="${admin.token}"` },
    });
    expect(within.status, "read whole and answered by our routes, not refused as too large").to.be.oneOf([404, 422]);
    const past = await rawRequest(server.url, "GET", `/secrets?variable_ids=${"a".repeat(300 * 1024)}`, {
      timeoutMs: 5000,
    }).then(
      (res) => res.status,
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect(past).to.be.oneOf([431, "ECONNRESET", "EPIPE"]);
  });

  it("takes the same batch as a form body on POST /secrets (our extension, for proxies that cap URLs)", async () => {
    const body = new URLSearchParams({ variable_ids: ids(1000).join(",") }).toString();
    const res = await admin.request("POST", "/secrets", {
      body,
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).to.equal(200);
    expect(res.json()[ids(1)[0]!]).to.equal(`v-${names[0]}`);
    const nul = await admin.request("POST", "/secrets", {
      body: "variable_ids=a%00b",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(nul.status).to.equal(422);
  });

  it("loads a 20,000-variable policy (about 410 KB): no statement cap below the body limit", async () => {
    const policy = Array.from(
      { length: 20_000 },
      (_, i) => `- !variable fleet/service-${String(i).padStart(5, "0")}/api-token\n`,
    ).join("");
    expect(policy.length).to.be.above(400_000);
    const res = await admin.loadPolicy("POST", "root", policy);
    expect(res.status).to.equal(201);
    const count = await admin.request("GET", `/resources/${server.account}/variable?search=fleet&count=true`);
    expect(count.json()).to.deep.equal({ count: 20_000 });
  });
});
