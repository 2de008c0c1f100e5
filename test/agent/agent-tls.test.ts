import { expect } from "chai";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { loadAgentConfig } from "../../src/agent/agent-config.js";
import { runOnce } from "../../src/agent/run-agent.js";
import { startTestServer, type TestServer } from "../support/server.js";
import {
  issuerKey,
  serviceAccountClaims,
  signToken,
  startFakeIssuer,
  type FakeIssuer,
} from "../support/service-account-issuer.js";
import { httpsRequest, selfSignedCertificate, type TestCertificate } from "../support/tls.js";

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

describe("agent over HTTPS with a private CA (as the chart serves the API)", function () {
  this.timeout(60_000);
  let issuer: FakeIssuer;
  let server: TestServer;
  let tls: TestCertificate;
  let tokenFile: string;

  before(async () => {
    const key = await issuerKey("cluster");
    issuer = await startFakeIssuer([key]);
    tls = selfSignedCertificate();
    server = await startTestServer({
      account: "acme",
      flags: { ...issuer.flags, "tls-cert": tls.certFile, "tls-key": tls.keyFile },
    });
    const url = server.url.replace("http://", "https://");
    const login = await httpsRequest(`${url}/authn/acme/admin/authenticate`, tls.cert, {
      method: "POST",
      body: server.adminKey,
      headers: { "Accept-Encoding": "base64" },
    });
    const auth = { Authorization: `Token token="${login.text}"` };
    const policy =
      "- !host kubernetes/prod/app\n- !variable db/password\n- !permit { role: !host kubernetes/prod/app, privilege: [ read, execute ], resource: !variable db/password }\n";
    expect(
      (
        await httpsRequest(`${url}/policies/acme/policy/root`, tls.cert, {
          method: "POST",
          body: policy,
          headers: auth,
        })
      ).status,
    ).to.equal(201);
    expect(
      (
        await httpsRequest(`${url}/secrets/acme/variable/db%2Fpassword`, tls.cert, {
          method: "POST",
          body: "over-tls",
          headers: auth,
        })
      ).status,
    ).to.equal(201);
    tokenFile = join(mkdtempSync(join(tmpdir(), "agent-tls-")), "token");
    writeFileSync(tokenFile, await signToken(key, serviceAccountClaims("prod", "app")));
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  const configWith = (caPem: string | undefined) => {
    const config = loadAgentConfig([], {
      STRONGROOM_URL: server.url.replace("http://", "https://"),
      STRONGROOM_ACCOUNT: "acme",
      STRONGROOM_TOKEN_FILE: tokenFile,
      STRONGROOM_AGENT_DIR: mkdtempSync(join(tmpdir(), "agent-tls-files-")),
      STRONGROOM_AGENT_FILES: JSON.stringify({ password: { secret: "db/password" } }),
      ...(caPem ? { STRONGROOM_CA_PEM: caPem } : {}),
    });
    if (config === "help") throw new Error("unexpected");
    return config;
  };

  it("trusts the CA the webhook passes inline (STRONGROOM_CA_PEM) and writes the files", async () => {
    const config = configWith(tls.cert.toString("utf8"));
    await runOnce(config, log);
    expect(readFileSync(join(config.dir, "password"), "utf8")).to.equal("over-tls");
  });

  it("refuses the server's certificate without that CA", async () => {
    const config = configWith(undefined);
    await runOnce(config, log, 1).then(
      () => expect.fail("should not trust a private CA by default"),
      (err: Error) => expect(err.message).to.match(/SELF_SIGNED|self-signed|certificate/i),
    );
  });
});
