import { expect } from "chai";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, jitteredTimeout, type AgentDeps, type AgentServer } from "../../src/agent/agent.js";
import type { AgentLog } from "../../src/agent/agent-log.js";
import { AgentMetrics } from "../../src/agent/agent-metrics.js";
import { ServerError } from "../../src/agent/server-client.js";
import { writeFileAtomically } from "../../src/agent/write-files.js";
import { buildFileSpec } from "../../src/render/file-spec.js";

type Answer = { changed: boolean; cursor: string };
/** One watch's outcome: an answer, an error thrown, or a step that changes the server first. */
type Step = Answer | Error | (() => Answer | Error);

/** The change stream and batch read, scripted. Once the script runs out, a watch is held until release(). */
class FakeServer implements AgentServer {
  readonly values = new Map<string, string>();
  /** In order: `watch <cursor or ->`, `fetch`. */
  readonly calls: string[] = [];
  readonly watchIds: string[][] = [];
  readonly timeouts: number[] = [];
  readonly script: Step[] = [];
  /** Errors the next fetches throw, in turn. */
  readonly fetchFailures: Error[] = [];
  #held: ((answer: Answer) => void) | undefined;

  constructor(values: Record<string, string>, script: Step[]) {
    for (const [id, value] of Object.entries(values)) this.values.set(id, value);
    this.script.push(...script);
  }

  watch(ids: readonly string[], cursor: string | undefined, timeoutSeconds: number): Promise<Answer> {
    this.calls.push(`watch ${cursor ?? "-"}`);
    this.watchIds.push([...ids]);
    this.timeouts.push(timeoutSeconds);
    let step = this.script.shift();
    if (step === undefined) return new Promise((resolve) => (this.#held = resolve));
    if (typeof step === "function") step = step();
    return step instanceof Error ? Promise.reject(step) : Promise.resolve(step);
  }

  fetchBatch(ids: readonly string[]): Promise<Map<string, Buffer>> {
    this.calls.push("fetch");
    const failure = this.fetchFailures.shift();
    if (failure) return Promise.reject(failure);
    const found = new Map<string, Buffer>();
    for (const id of ids) {
      const value = this.values.get(id);
      if (value !== undefined) found.set(id, Buffer.from(value));
    }
    return Promise.resolve(found);
  }

  get holding(): boolean {
    return this.#held !== undefined;
  }

  release(answer: Answer): void {
    const held = this.#held;
    this.#held = undefined;
    held?.(answer);
  }

  count(call: string): number {
    return this.calls.filter((c) => c === call).length;
  }
}

const FILES = [
  buildFileSpec("app.env", {
    secrets: "- DB_USER: db/user\n- DB_PASSWORD: db/password\n",
    format: "dotenv",
    mode: "0400",
  }),
  buildFileSpec("token", { secret: "api/token" }),
];
const VALUES = { "db/user": "app", "db/password": "s3cret", "api/token": "tok" };
const ENV = (password: string) => `DB_USER="app"\nDB_PASSWORD="${password}"\n`;

const outage = () => new ServerError(503, "watch refused (HTTP 503)");
const unreachable = () => new ServerError(undefined, "GET /secrets/watch: ECONNREFUSED");

async function until(what: string, probe: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string | undefined;
}

function harness(
  script: Step[],
  options: Partial<Pick<AgentDeps, "random" | "sleep" | "backoffMaxMs" | "write">> & {
    onSleep?: (ms: number) => void;
  } = {},
) {
  const server = new FakeServer(VALUES, script);
  const files = new Map<string, { content: string; mode: number }>();
  const writes: string[] = [];
  const sleeps: number[] = [];
  const logs: LogLine[] = [];
  const at =
    (level: string) =>
    (fields: object, message?: string): void =>
      void logs.push({ level, fields: fields as Record<string, unknown>, message });
  const log: AgentLog = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  const metrics = new AgentMetrics(false);
  const agent: Agent = new Agent({
    server,
    write:
      options.write ??
      (async (name, content, mode) => {
        writes.push(name);
        files.set(name, { content: content.toString("utf8"), mode });
      }),
    files: FILES,
    log,
    metrics,
    watchTimeoutSeconds: 30,
    backoffMaxMs: options.backoffMaxMs ?? 2_000,
    sleep:
      options.sleep ??
      (async (ms) => {
        sleeps.push(ms);
        options.onSleep?.(ms);
      }),
    random: options.random ?? (() => 0),
  });
  let done: Promise<void> | undefined;
  return {
    server,
    files,
    writes,
    sleeps,
    logs,
    metrics,
    agent,
    start(): Promise<void> {
      done = agent.run();
      return done;
    },
    /** The script has run out: the loop is waiting on a watch. */
    settled: () => until("the loop to wait on a watch", () => server.holding),
    async stop(): Promise<void> {
      agent.stop();
      server.release({ changed: false, cursor: "after-stop" });
      await done;
    },
  };
}

describe("unit: the agent's loop (Agent, with a fake server and writer)", () => {
  it("on the first answer fetches once, writes every file with its mode, then reports ready", async () => {
    const readyAtWrite: boolean[] = [];
    const h = harness([{ changed: false, cursor: "c1" }], {
      write: async (name, content, mode) => {
        readyAtWrite.push(h.agent.status().ready);
        h.writes.push(name);
        h.files.set(name, { content: content.toString("utf8"), mode });
      },
    });
    expect(h.agent.status()).to.deep.equal({ ready: false, lastError: undefined });
    void h.start();
    await h.settled();
    // The cursor is taken first, then the values; the next watch carries the cursor.
    expect(h.server.calls).to.deep.equal(["watch -", "fetch", "watch c1"]);
    expect(h.server.watchIds[0]).to.deep.equal(["db/user", "db/password", "api/token"]);
    expect(Object.fromEntries(h.files)).to.deep.equal({
      "app.env": { content: ENV("s3cret"), mode: 0o400 },
      token: { content: "tok", mode: 0o444 },
    });
    expect(readyAtWrite).to.deep.equal([false, false]);
    expect(h.agent.status()).to.deep.equal({ ready: true, lastError: undefined });
    expect(h.metrics.filesWritten.get()).to.equal(2);
    expect(h.metrics.syncs.get({ outcome: "written" })).to.equal(1);
    expect(h.logs).to.deep.include({ level: "info", fields: { files: 2 }, message: "files written" });
    await h.stop();
  });

  it("on `changed` fetches again and rewrites only the files whose content changed", async () => {
    const h = harness([
      { changed: false, cursor: "c1" },
      () => {
        h.server.values.set("db/password", "rotated");
        return { changed: true, cursor: "c2" };
      },
    ]);
    void h.start();
    await h.settled();
    expect(h.server.calls).to.deep.equal(["watch -", "fetch", "watch c1", "fetch", "watch c2"]);
    expect(h.files.get("app.env")?.content).to.equal(ENV("rotated"));
    expect(h.writes).to.deep.equal(["app.env", "token", "app.env"]);
    expect(h.metrics.syncs.get({ outcome: "written" })).to.equal(2);
    await h.stop();
  });

  it("on `changed` with the same values, fetches but rewrites nothing", async () => {
    const h = harness([
      { changed: false, cursor: "c1" },
      { changed: true, cursor: "c2" },
    ]);
    void h.start();
    await h.settled();
    expect(h.server.count("fetch")).to.equal(2);
    expect(h.writes).to.deep.equal(["app.env", "token"]);
    expect(h.metrics.syncs.get({ outcome: "unchanged" })).to.equal(1);
    await h.stop();
  });

  it("on `unchanged` re-arms the watch with the new cursor, without fetching", async () => {
    const h = harness([
      { changed: false, cursor: "c1" },
      { changed: false, cursor: "c2" },
      { changed: false, cursor: "c3" },
    ]);
    void h.start();
    await h.settled();
    expect(h.server.calls).to.deep.equal(["watch -", "fetch", "watch c1", "watch c2", "watch c3"]);
    expect(h.writes).to.have.length(2);
    await h.stop();
  });

  it("asks for a long-poll timeout jittered into the last quarter below the configured one", async () => {
    const low = harness([{ changed: false, cursor: "c1" }], { random: () => 0 });
    const high = harness([{ changed: false, cursor: "c1" }], { random: () => 0.999 });
    void low.start();
    void high.start();
    await low.settled();
    await high.settled();
    expect(low.server.timeouts).to.deep.equal([30, 30]);
    expect(high.server.timeouts).to.deep.equal([23, 23]);
    await low.stop();
    await high.stop();
    expect(jitteredTimeout(30, () => 0.5)).to.equal(26);
    expect(jitteredTimeout(1, () => 0.999)).to.equal(1);
  });

  it("backs off on errors with doubling, jittered waits capped at the max, and starts over after a success", async () => {
    const script = (): Step[] => [
      outage(),
      unreachable(),
      outage(),
      outage(),
      outage(),
      outage(),
      { changed: false, cursor: "c1" },
      outage(),
    ];
    const half = harness(script(), { random: () => 0, backoffMaxMs: 2_000 });
    void half.start();
    await half.settled();
    expect(half.sleeps).to.deep.equal([125, 250, 500, 1000, 1000, 1000, 125]);
    // While the watch fails nothing is fetched; the success syncs once.
    expect(half.server.count("fetch")).to.equal(1);
    await half.stop();

    const threeQuarters = harness(script(), { random: () => 0.5, backoffMaxMs: 2_000 });
    void threeQuarters.start();
    await threeQuarters.settled();
    expect(threeQuarters.sleeps).to.deep.equal([188, 375, 750, 1500, 1500, 1500, 188]);
    await threeQuarters.stop();
  });

  it("keeps the last good files through an outage, then re-syncs at once without a cursor", async () => {
    const duringOutage: { content: string | undefined; status: ReturnType<Agent["status"]> }[] = [];
    const h = harness(
      [
        { changed: false, cursor: "c1" },
        () => {
          h.server.values.set("db/password", "rotated");
          h.server.fetchFailures.push(new ServerError(503, "batch read of 3 variables refused (HTTP 503)"));
          return { changed: true, cursor: "c2" };
        },
        // Back: the cursorless watch answers at once, `changed` or not.
        { changed: false, cursor: "c3" },
      ],
      { onSleep: () => duringOutage.push({ content: h.files.get("app.env")?.content, status: h.agent.status() }) },
    );
    void h.start();
    await h.settled();
    expect(duringOutage).to.deep.equal([
      {
        content: ENV("s3cret"),
        status: { ready: true, lastError: "batch read of 3 variables refused (HTTP 503)" },
      },
    ]);
    expect(h.server.calls).to.deep.equal(["watch -", "fetch", "watch c1", "fetch", "watch -", "fetch", "watch c3"]);
    expect(h.files.get("app.env")?.content).to.equal(ENV("rotated"));
    expect(h.agent.status()).to.deep.equal({ ready: true, lastError: undefined });
    expect(h.metrics.syncs.get({ outcome: "unreachable" })).to.equal(1);
    expect(h.logs).to.deep.include({
      level: "warn",
      fields: { outcome: "unreachable", err: "batch read of 3 variables refused (HTTP 503)", ready: true },
      message: "keeping the last good files",
    });
    await h.stop();
  });

  it("reports a 401/403 as a denial (not an outage), stays not ready, and keeps retrying", async () => {
    const seen: ReturnType<Agent["status"]>[] = [];
    const h = harness(
      [
        new ServerError(403, "watch refused (HTTP 403)"),
        new ServerError(401, "authn-kubernetes refused host/app (HTTP 401)"),
        unreachable(),
        { changed: false, cursor: "c1" },
      ],
      { onSleep: () => seen.push(h.agent.status()) },
    );
    void h.start();
    await h.settled();
    expect(seen).to.deep.equal([
      { ready: false, lastError: "watch refused (HTTP 403)" },
      { ready: false, lastError: "authn-kubernetes refused host/app (HTTP 401)" },
      { ready: false, lastError: "GET /secrets/watch: ECONNREFUSED" },
    ]);
    expect(h.metrics.syncs.get({ outcome: "denied" })).to.equal(2);
    expect(h.metrics.syncs.get({ outcome: "unreachable" })).to.equal(1);
    expect(h.logs.filter((l) => l.level === "warn").map((l) => [l.fields.outcome, l.message])).to.deep.equal([
      ["denied", "no files written yet"],
      ["denied", "no files written yet"],
      ["unreachable", "no files written yet"],
    ]);
    // Denied, then allowed (a policy change): the files come.
    expect(h.agent.status()).to.deep.equal({ ready: true, lastError: undefined });
    expect(h.writes).to.deep.equal(["app.env", "token"]);
    await h.stop();
  });

  it("classifies 401, 403, 404 and 422 as denials, anything else as an outage", () => {
    for (const status of [401, 403, 404, 422])
      expect(new ServerError(status, "x").denial, String(status)).to.equal(true);
    for (const status of [undefined, 400, 429, 500, 502, 503])
      expect(new ServerError(status, "x").denial, String(status)).to.equal(false);
  });

  it("a value that cannot be rendered keeps every last good file and waits for the next change, without backoff", async () => {
    const h = harness([
      { changed: false, cursor: "c1" },
      () => {
        h.server.values.set("db/password", "rotated");
        h.server.values.delete("api/token");
        return { changed: true, cursor: "c2" };
      },
      () => {
        h.server.values.set("api/token", "tok2");
        return { changed: true, cursor: "c3" };
      },
    ]);
    let afterBadChange: { files: string[]; status: ReturnType<Agent["status"]> } | undefined;
    const originalFetch = h.server.fetchBatch.bind(h.server);
    let fetches = 0;
    h.server.fetchBatch = async (ids) => {
      // Observe the state left by the unrenderable change, just before the fix is fetched.
      if (++fetches === 3)
        afterBadChange = { files: [...h.files.values()].map((f) => f.content), status: h.agent.status() };
      return originalFetch(ids);
    };
    void h.start();
    await h.settled();
    // The env file's input changed too, but nothing is written from a set that cannot all be rendered.
    expect(afterBadChange).to.deep.equal({
      files: [ENV("s3cret"), "tok"],
      status: { ready: true, lastError: "file 'token': no value for variable 'api/token'" },
    });
    expect(h.sleeps).to.deep.equal([]);
    expect(h.server.calls).to.deep.equal(["watch -", "fetch", "watch c1", "fetch", "watch c2", "fetch", "watch c3"]);
    expect(h.metrics.syncs.get({ outcome: "render_error" })).to.equal(1);
    expect(Object.fromEntries([...h.files].map(([name, f]) => [name, f.content]))).to.deep.equal({
      "app.env": ENV("rotated"),
      token: "tok2",
    });
    expect(h.agent.status().lastError).to.equal(undefined);
    await h.stop();
  });

  it("stop() ends the loop promptly in the middle of a (real) backoff", async () => {
    // No sleep injected: the real timer, 250 ms nominal for the first retry.
    const server = new FakeServer(VALUES, [outage(), outage()]);
    const agent = new Agent({
      server,
      write: async () => undefined,
      files: FILES,
      log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
      metrics: new AgentMetrics(false),
      watchTimeoutSeconds: 30,
      backoffMaxMs: 60_000,
      random: () => 0.999,
    });
    const done = agent.run();
    await until("the first failure", () => server.calls.length === 1);
    const stopping = Date.now();
    agent.stop();
    await done;
    expect(Date.now() - stopping).to.be.below(100);
    expect(server.calls).to.deep.equal(["watch -"]);
  });

  it("stop() during a held watch: the late answer is ignored and nothing more is fetched", async () => {
    const h = harness([{ changed: false, cursor: "c1" }]);
    const done = h.start();
    await h.settled();
    h.agent.stop();
    h.server.release({ changed: true, cursor: "c2" });
    await done;
    expect(h.server.calls).to.deep.equal(["watch -", "fetch", "watch c1"]);
    expect(h.writes).to.have.length(2);
  });

  it("stop() before run(): run() returns without calling the server", async () => {
    const h = harness([{ changed: false, cursor: "c1" }]);
    h.agent.stop();
    await h.start();
    expect(h.server.calls).to.deep.equal([]);
  });

  it("with the real atomic writer, files land whole in the directory with their modes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "agent-loop-"));
    try {
      const h = harness(
        [
          { changed: false, cursor: "c1" },
          () => {
            h.server.values.set("api/token", "tok2");
            return { changed: true, cursor: "c2" };
          },
        ],
        { write: (name, content, mode) => writeFileAtomically(dir, name, content, mode) },
      );
      void h.start();
      await h.settled();
      expect((await readdir(dir)).sort()).to.deep.equal(["app.env", "token"]);
      expect(await readFile(join(dir, "app.env"), "utf8")).to.equal(ENV("s3cret"));
      expect(await readFile(join(dir, "token"), "utf8")).to.equal("tok2");
      expect((await stat(join(dir, "app.env"))).mode & 0o777).to.equal(0o400);
      expect((await stat(join(dir, "token"))).mode & 0o777).to.equal(0o444);
      await h.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
