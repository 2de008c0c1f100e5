import { expect } from "chai";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { loadAgentConfig, type AgentConfig } from "../../src/agent/agent-config.js";
import { AgentFailure, runOnce, startAgent, type RunningAgent } from "../../src/agent/run-agent.js";
import { resolveFiles } from "../../src/kubernetes/reconcilers/resolve-files.js";
import { AgentMetrics } from "../../src/telemetry/metrics.js";
import { Client } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import {
  CLUSTER_ISSUER,
  issuerKey,
  serviceAccountClaims,
  signToken,
  startFakeIssuer,
  type FakeIssuer,
  type IssuerKey,
} from "../support/service-account-issuer.js";

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

/**
 * Exactly what Secret mode needs (hosts kubernetes/<ns>/<sa>, variables, read/execute) and
 * nothing else: no authn-jwt webservice, group, privilege or annotation.
 */
const POLICY = `
- !host kubernetes/prod/app
- !host kubernetes/prod/nosy
- !variable db/user
- !variable db/password
- !variable tls/cert
- !permit { role: !host kubernetes/prod/app, privilege: [ read, execute ], resources: [ !variable db/user, !variable db/password, !variable tls/cert ] }
- !permit { role: !host kubernetes/prod/nosy, privilege: [ read, execute ], resources: [ !variable db/user ] }
`;

/** Loaded only for the last test: authn-jwt stays available as an option, with its own policy. */
const AUTHN_JWT_POLICY = `
- !policy
  id: conjur/authn-jwt/kubernetes
  body:
  - !webservice
  - !variable public-keys
  - !variable issuer
  - !variable audience
  - !permit { role: !host /kubernetes/prod/app, privilege: [ read, authenticate ], resource: !webservice }
- !host
  id: kubernetes/prod/app
  annotations: { authn-jwt/kubernetes/kubernetes.io/namespace: prod, authn-jwt/kubernetes/kubernetes.io/serviceaccount/name: app }
`;

const FILES = {
  "app.env": { secrets: "- DB_USER: db/user\n- DB_PASSWORD: db/password\n", format: "dotenv", mode: "0440" },
  "dsn.txt": {
    secrets: "- U: db/user\n- P: db/password",
    format: "template",
    template: 'postgres://{{ secret "U" }}:{{ secret "P" | urlquery }}@db:5432/app',
  },
  "cert.json": { secrets: "- cert: tls/cert", format: "json" },
  password: { secret: "db/password" },
};

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 10));
  }
}

describe("agent: rendered files from the server, following rotations", function () {
  this.timeout(60_000);
  let server: TestServer;
  let admin: Client;
  let issuer: FakeIssuer;
  let key: IssuerKey;
  let tokenDir: string;
  const agents: RunningAgent[] = [];
  const agentsDir: string[] = [];

  /** The projected token kubelet writes for a pod of service account prod/<sa>. */
  const tokenFor = async (sa: string): Promise<string> => {
    const file = join(tokenDir, sa);
    writeFileSync(file, await signToken(key, serviceAccountClaims("prod", sa)));
    return file;
  };
  /** The agent's settings as the webhook sets them (authenticator default: authn-kubernetes). */
  const configFor = async (
    sa: string,
    files: object = FILES,
    extra: Record<string, string> = {},
  ): Promise<AgentConfig> => {
    const dir = mkdtempSync(join(tmpdir(), "agent-files-"));
    const config = loadAgentConfig([], {
      STRONGROOM_URL: server.url,
      STRONGROOM_ACCOUNT: server.account,
      STRONGROOM_LOGIN: `host/kubernetes/prod/${sa}`,
      STRONGROOM_TOKEN_FILE: await tokenFor(sa),
      STRONGROOM_AGENT_DIR: dir,
      STRONGROOM_AGENT_FILES: JSON.stringify(files),
      STRONGROOM_AGENT_HEALTH_PORT: "0",
      STRONGROOM_AGENT_BACKOFF_MAX: "500",
      ...extra,
    });
    if (config === "help") throw new Error("unexpected");
    return config;
  };
  const health = async (agent: RunningAgent) => {
    const res = await fetch(`http://127.0.0.1:${agent.healthPort}/health`);
    return { status: res.status, body: (await res.json()) as { ready: boolean; lastError?: string } };
  };

  before(async () => {
    key = await issuerKey("cluster");
    issuer = await startFakeIssuer([key]);
    tokenDir = mkdtempSync(join(tmpdir(), "agent-token-"));
    server = await startTestServer({
      account: "acme",
      flags: { ...issuer.flags, authenticators: "authn,authn-kubernetes,authn-jwt/kubernetes" },
    });
    admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    const loaded = await admin.loadPolicy("POST", "root", POLICY);
    expect(loaded.status, loaded.text).to.equal(201);
    await admin.setSecret("db/user", "app");
    await admin.setSecret("db/password", 'p@ss "w$rd"');
    await admin.setSecret("tls/cert", Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]));
  });
  after(async () => {
    for (const agent of agents) await agent.stop();
    await server.close();
    await issuer.close();
  });

  it("the policy that serves a pod in Secret mode (the controller's resolution) is all the agent needs", async () => {
    const { pool, aead } = server.services;
    const secretMode = await resolveFiles(
      { db: pool, aead, account: server.account },
      { namespace: "prod", serviceAccount: "app", host: undefined },
      { password: "db/password" },
    );
    expect(secretMode).to.deep.include({ ok: true, roleId: "acme:host:kubernetes/prod/app" });
    const webservices = await admin.request("GET", `/resources/${server.account}/webservice`);
    expect(webservices.json(), "no authenticator policy loaded").to.deep.equal([]);
    const config = await configFor("app", { password: { secret: "db/password" } });
    await runOnce(config, log);
    const written = readFileSync(join(config.dir, "password"));
    expect(written.toString("base64")).to.equal((secretMode as { data: Record<string, string> }).data.password);
    // Without a login in the URL the agent is the same default host.
    const noLogin = await configFor("app", { password: { secret: "db/password" } }, { STRONGROOM_LOGIN: "" });
    await runOnce(noLogin, log);
    expect(readFileSync(join(noLogin.dir, "password"), "utf8")).to.equal('p@ss "w$rd"');
  });

  it("writes every file on first fetch, with its format and mode, and only then reports ready", async () => {
    const config = await configFor("app");
    const agent = await startAgent(config, log, { metrics: new AgentMetrics(false), healthHost: "127.0.0.1" });
    agents.push(agent);
    agentsDir.push(config.dir);
    await until("ready", async () => ((await health(agent)).status === 200 ? true : undefined));
    const read = (name: string) => readFileSync(join(config.dir, name));
    expect(read("app.env").toString()).to.equal('DB_USER="app"\nDB_PASSWORD="p@ss \\"w\\$rd\\""\n');
    expect(read("dsn.txt").toString()).to.equal("postgres://app:p%40ss+%22w%24rd%22@db:5432/app");
    expect(JSON.parse(read("cert.json").toString())).to.deep.equal({ cert: "3q2+7wD/" });
    expect(read("password").toString()).to.equal('p@ss "w$rd"');
    expect(statSync(join(config.dir, "app.env")).mode & 0o777).to.equal(0o440);
    expect(statSync(join(config.dir, "password")).mode & 0o777).to.equal(0o444);
    const metrics = await (await fetch(`http://127.0.0.1:${agent.healthPort}/metrics`)).text();
    expect(metrics).to.match(/strongroom_agent_ready 1/);
    expect(metrics).to.match(/strongroom_agent_files_written_total 4/);
  });

  it("rewrites the files atomically within a second of a rotation (readers never see a partial file)", async () => {
    const target = join(agentsDir[0]!, "app.env");
    const before = readFileSync(target, "utf8");
    const after = `DB_USER="app"\nDB_PASSWORD="${"rotated".repeat(20000)}"\n`;
    const seen = new Set<string>();
    let reading = true;
    const reader = (async () => {
      while (reading) {
        seen.add(readFileSync(target, "utf8"));
        await new Promise((ok) => setImmediate(ok));
      }
    })();
    const started = Date.now();
    await admin.setSecret("db/password", "rotated".repeat(20000));
    const elapsed = await until(
      "rotation",
      () => (readFileSync(target, "utf8") === after ? Date.now() - started : undefined),
      5_000,
    );
    reading = false;
    await reader;
    console.log(`      rotation reached the file after ${elapsed} ms`);
    expect(elapsed).to.be.below(1000);
    expect(
      [...seen].every((content) => content === before || content === after),
      "only whole files",
    ).to.equal(true);
    await until("the last file", () =>
      readFileSync(join(agentsDir[0]!, "password"), "utf8") === "rotated".repeat(20000) ? true : undefined,
    );
    expect(
      readdirSync(agentsDir[0]!).filter((f) => f.endsWith(".tmp")),
      "no temporary files left",
    ).to.deep.equal([]);
    expect(readFileSync(join(agentsDir[0]!, "dsn.txt"), "utf8")).to.include("rotated");
  });

  it("follows on one stream: rotations cost no watch request (GET /secrets/watch?stream=true, held)", async () => {
    const watchRequests = async (): Promise<number> =>
      [
        ...(await (await fetch(`${server.url}/metrics`)).text()).matchAll(
          /^strongroom_http_requests_total\{[^}]*route="\/secrets\/watch"[^}]*\} (\d+)$/gm,
        ),
      ].reduce((sum, m) => sum + Number(m[1]), 0);
    const before = await watchRequests();
    const target = join(agentsDir[0]!, "password");
    // Ends on the value the earlier test left, which the later ones read.
    for (const value of ["streamed-1", "streamed-2", "rotated".repeat(20000)]) {
      await admin.setSecret("db/password", value);
      await until("the rotation", () => (readFileSync(target, "utf8") === value ? true : undefined), 5_000);
    }
    expect(await watchRequests(), "no watch request ended: the stream stays").to.equal(before);
    expect(server.services.watchHub!.watchers).to.be.at.least(1);
  });

  it("denial: --once fails at once with a clear message; a running agent stays not ready with the reason", async () => {
    const config = await configFor("nosy");
    let failure: unknown;
    await runOnce(config, log).catch((err: unknown) => (failure = err));
    expect(failure).to.be.instanceOf(AgentFailure);
    expect((failure as Error).message).to.match(/batch read of 3 variables refused \(HTTP 403/);
    expect(readdirSync(config.dir)).to.deep.equal([]);
    const agent = await startAgent(config, log, { metrics: new AgentMetrics(false), healthHost: "127.0.0.1" });
    agents.push(agent);
    const h = await until("an error", async () => {
      const r = await health(agent);
      return r.body.lastError ? r : undefined;
    });
    expect(h.status).to.equal(503);
    expect(h.body).to.include({ ready: false });
    expect(h.body.lastError).to.match(/HTTP 403/);
    const wrongAudience = await configFor("app", FILES);
    writeFileSync(wrongAudience.tokenFile, "not-a-jwt");
    await runOnce(wrongAudience, log).then(
      () => expect.fail("should fail"),
      (err: Error) => expect(err.message).to.match(/authn-kubernetes refused host\/kubernetes\/prod\/app \(HTTP 401\)/),
    );
  });

  for (const [name, command] of [
    ["strongroom agent --once (the real CLI)", ["npx", "tsx", "src/cli/main.ts", "agent", "--once"]],
    [
      "the image's agent bundle with --once (dist/agent/strongroom-agent.cjs)",
      [process.execPath, "dist/agent/strongroom-agent.cjs", "--once"],
    ],
  ] as const) {
    it(`${name} writes the files and exits 0, or exits 1 with one line on denial`, async () => {
      const run = (config: AgentConfig, sa: string) =>
        new Promise<{ code: number; stderr: string }>((resolve) => {
          execFile(
            command[0],
            command.slice(1),
            {
              env: {
                ...process.env,
                STRONGROOM_URL: server.url,
                STRONGROOM_ACCOUNT: server.account,
                STRONGROOM_LOGIN: `host/kubernetes/prod/${sa}`,
                STRONGROOM_TOKEN_FILE: config.tokenFile,
                STRONGROOM_AGENT_DIR: config.dir,
                STRONGROOM_AGENT_FILES: JSON.stringify(FILES),
                STRONGROOM_LOG_LEVEL: "error",
              },
            },
            (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
          );
        });
      const ok = await configFor("app");
      expect(await run(ok, "app")).to.deep.include({ code: 0 });
      expect(readFileSync(join(ok.dir, "app.env"), "utf8")).to.match(/^DB_USER="app"/);
      const denied = await configFor("nosy");
      const result = await run(denied, "nosy");
      expect(result.code).to.equal(1);
      expect(result.stderr.trim()).to.equal("strongroom agent: batch read of 3 variables refused (HTTP 403)");
    });
  }

  it("authn-jwt stays an option (--authenticator authn-jwt/<service>), with its own policy", async () => {
    const patched = await admin.loadPolicy("POST", "root", AUTHN_JWT_POLICY);
    expect(patched.status, patched.text).to.equal(201);
    await admin.setSecret(
      "conjur/authn-jwt/kubernetes/public-keys",
      JSON.stringify({ type: "jwks", value: { keys: [key.jwk] } }),
    );
    await admin.setSecret("conjur/authn-jwt/kubernetes/issuer", CLUSTER_ISSUER);
    await admin.setSecret("conjur/authn-jwt/kubernetes/audience", "strongroom");
    const config = await configFor(
      "app",
      { password: { secret: "db/password" } },
      { STRONGROOM_AUTHENTICATOR: "authn-jwt/kubernetes" },
    );
    expect(config.authenticator).to.equal("authn-jwt/kubernetes");
    await runOnce(config, log);
    expect(readFileSync(join(config.dir, "password"), "utf8")).to.equal("rotated".repeat(20000));
  });

  it("server down: the last good files stay, the agent stays ready and reports the outage", async () => {
    const agent = agents[0]!;
    const target = join(agentsDir[0]!, "app.env");
    const content = readFileSync(target, "utf8");
    await server.close();
    const h = await until("the outage to show", async () => {
      const r = await health(agent);
      return r.body.lastError ? r : undefined;
    });
    expect(h.status).to.equal(200);
    expect(h.body.lastError).to.match(/ECONNREFUSED|503|unreachable|socket/i);
    await new Promise((ok) => setTimeout(ok, 1500)); // several retries
    expect(readFileSync(target, "utf8")).to.equal(content);
    const metrics = await (await fetch(`http://127.0.0.1:${agent.healthPort}/metrics`)).text();
    expect(metrics).to.match(/strongroom_agent_syncs_total\{outcome="unreachable"\} [1-9]/);
    server = { close: async () => undefined } as unknown as TestServer;
  });
});

describe("agent: a stream ends when its token expires, and the agent follows on with a fresh one", function () {
  this.timeout(60_000);
  let server: TestServer;
  let issuer: FakeIssuer;
  let agent: RunningAgent | undefined;
  after(async () => {
    await agent?.stop();
    await server?.close();
    await issuer?.close();
  });

  it("keeps following rotations across streams the server ended (tokens of 2 s)", async () => {
    const key = await issuerKey("cluster");
    issuer = await startFakeIssuer([key]);
    server = await startTestServer({ account: "acme", tokenTtl: 2, flags: { ...issuer.flags } });
    const admin = await new Client(server.url, server.account).login("admin", server.adminKey);
    await admin.loadPolicy("POST", "root", POLICY);
    await admin.setSecret("db/password", "before");
    const tokenFile = join(mkdtempSync(join(tmpdir(), "agent-token-")), "app");
    writeFileSync(tokenFile, await signToken(key, serviceAccountClaims("prod", "app")));
    const dir = mkdtempSync(join(tmpdir(), "agent-files-"));
    const config = loadAgentConfig([], {
      STRONGROOM_URL: server.url,
      STRONGROOM_ACCOUNT: server.account,
      STRONGROOM_LOGIN: "host/kubernetes/prod/app",
      STRONGROOM_TOKEN_FILE: tokenFile,
      STRONGROOM_AGENT_DIR: dir,
      STRONGROOM_AGENT_FILES: JSON.stringify({ password: { secret: "db/password" } }),
      STRONGROOM_AGENT_HEALTH_PORT: "0",
      STRONGROOM_AGENT_BACKOFF_MAX: "500",
    });
    if (config === "help") throw new Error("unexpected");
    agent = await startAgent(config, log, { metrics: new AgentMetrics(false), healthHost: "127.0.0.1" });
    const file = join(dir, "password");
    const content = (): string => (existsSync(file) ? readFileSync(file, "utf8") : "");
    await until("the first file", () => (content() === "before" ? true : undefined));
    const streams = async (): Promise<number> =>
      [
        ...(await (await fetch(`${server.url}/metrics`)).text()).matchAll(
          /^strongroom_http_requests_total\{[^}]*route="\/secrets\/watch"[^}]*status="200"[^}]*\} (\d+)$/gm,
        ),
      ].reduce((sum, m) => sum + Number(m[1]), 0);
    const ended = await streams();
    await until("two streams to end", async () => ((await streams()) >= ended + 2 ? true : undefined), 15_000);
    // The admin's own token has expired as well by now.
    const again = await new Client(server.url, server.account).login("admin", server.adminKey);
    const started = Date.now();
    await again.setSecret("db/password", "after");
    await until("the rotation", () => (content() === "after" ? true : undefined), 5_000);
    expect(Date.now() - started).to.be.below(1000);
  });
});
