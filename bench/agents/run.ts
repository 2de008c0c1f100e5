/**
 * `npm run bench:agents`: the change stream and the agent at fleet scale (issue 19).
 *
 * Processes: embedded Postgres, `strongroom server` (dist/, its own process), a fleet of
 * watchers (watchers.mjs, its own process, holding N long-polls as N agents would), the
 * load generator for GETs, and real agents (`node dist/agent/strongroom-agent.cjs`, the bundled lean entry the image runs).
 *
 * Per fleet size (BENCH_AGENT_SIZES, default 1000,10000,50000): server memory per held
 * watch; one rotation followed by all, then one followed by 10 % (latency from the write to
 * each watcher's answer and to its batch read, non-200 answers); the idle fleet at the
 * agent's default 30 s re-poll (server + Postgres CPU, re-polls/s; BENCH_AGENT_IDLE_SECONDS,
 * default 30, after ≥ 31 s of settling; the fleet gathers with 300 s polls first); GETs while held versus none. Then one agent and 20
 * at once: start-up CPU, first-file time, RSS after the first write and after idling.
 * Figures are noisy on a shared machine: run it several times and quote medians.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import pg from "pg";
import { generateDataKey } from "../../src/crypto/aead.js";
import { startEmbeddedPostgres } from "../../src/storage/embedded.js";
import {
  issuerKey,
  serviceAccountClaims,
  signToken,
  startFakeIssuer,
} from "../../test/support/service-account-issuer.js";
import { authenticate } from "../lib/dataset.js";
import {
  childrenOf,
  cpuSeconds,
  loadAverage,
  rssMiB,
  sampleSteal,
  sampleThreads,
  sampleUsage,
} from "../lib/proc-stats.js";
import { freePort, profileFlags, runLoad } from "../lib/processes.js";
import { machine } from "../lib/report.js";
import { AGENT_SETTINGS } from "../../src/agent/agent-config.js";

/** Each held watch is a socket in the server and one in the fleet's process: sizes past the open-file limit are skipped. */
const FILES_LIMIT = Number(spawnSync("bash", ["-c", "ulimit -n"], { encoding: "utf8" }).stdout.trim()) || 1024;
const SIZES = (process.env.BENCH_AGENT_SIZES ?? "1000,10000,50000")
  .split(",")
  .map(Number)
  .filter((n) => n > 0) // BENCH_AGENT_SIZES= (empty): the agents only
  .filter((n) => {
    if (n <= FILES_LIMIT - 1000) return true;
    console.error(
      `skipping ${n} watchers: the open-file limit here is ${FILES_LIMIT} (ulimit -Hn); each watch is a socket in the server`,
    );
    return false;
  });
const IDLE_SECONDS = Number(process.env.BENCH_AGENT_IDLE_SECONDS ?? 30);
/** Seconds the fleet is sampled right after it is held, before any re-poll is due. */
const QUIET_SECONDS = Number(process.env.BENCH_AGENT_QUIET_SECONDS ?? 10);
const GET_SECONDS = Number(process.env.BENCH_AGENT_GET_SECONDS ?? 8);
/** GET windows per condition (held, after): the median is reported; one window alone varied ±5 %. */
const GET_ROUNDS = Math.max(1, Number(process.env.BENCH_AGENT_GET_ROUNDS ?? 3));
/** BENCH_AGENT_MODE=poll: the fleet long-polls (each answer ends a request) instead of holding streams as the agent does. */
const STREAM = (process.env.BENCH_AGENT_MODE ?? "stream") !== "poll";
/** BENCH_AGENT_FETCH=0: followers do not read their variables after a change (the answers alone, measured apart). */
const FETCH = process.env.BENCH_AGENT_FETCH !== "0";
/** The idle fleet's re-poll (the agent's --watch-timeout); default: the agent's default. */
const REPOLL_SECONDS = Number(process.env.BENCH_AGENT_REPOLL ?? AGENT_SETTINGS.watchTimeout?.default ?? 300);
const ACCOUNT = "bench";
const HOSTS = 100;
const GROUPS = 10;
const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

const dir = mkdtempSync(join(tmpdir(), "strongroom-bench-agents-"));
const logFile = join(dir, "server.log");
const database = await startEmbeddedPostgres(dir, () => undefined);
const postmaster = Number(readFileSync(join(dir, "pg", "postmaster.pid"), "utf8").split("\n")[0]);
const postgresPids = (): number[] => childrenOf(postmaster);
const key = await issuerKey("cluster");
const issuer = await startFakeIssuer([key]);
const children: ChildProcess[] = [];
const results: Record<string, unknown> = {
  machine: machine(),
  mode: STREAM ? "stream" : "poll",
  filesLimit: FILES_LIMIT,
  startedAt: new Date().toISOString(),
  loadBefore: loadAverage(),
};

async function until<T>(
  what: string,
  seconds: number,
  probe: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

try {
  // The server, as production runs it (log level info), with room for the largest fleet.
  const port = await freePort();
  const flags = Object.entries(issuer.flags).flatMap(([k, v]) => [`--${k}`, v]);
  const server = spawn(
    process.execPath,
    [
      // BENCH_PROFILE=<dir>: the server's CPU profile, as in the other benches.
      ...profileFlags(),
      join("dist", "cli", "main.js"),
      "server",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--account",
      ACCOUNT,
      "--log-level",
      process.env.BENCH_LOG_LEVEL ?? "info",
      // The fleet's access tokens are fetched once (real agents log in again before expiry:
      // ~21 logins/s for 10,000 at the 8-minute default): long enough for a 300 s idle window.
      "--token-ttl",
      "18000",
      "--max-watchers",
      String(Math.max(...SIZES) + 1000),
      ...flags,
    ],
    {
      stdio: ["ignore", openSync(logFile, "a"), openSync(logFile, "a")],
      env: { ...process.env, DATABASE_URL: database.url, STRONGROOM_DATA_KEY: generateDataKey() },
    },
  );
  children.push(server);
  const url = `http://127.0.0.1:${port}`;
  const adminKey = await until(
    "the server",
    60,
    () => /API key for admin: (\S+)/.exec(readFileSync(logFile, "utf8"))?.[1],
  );
  const admin = await authenticate(url, ACCOUNT, "admin", adminKey);
  const call = async (method: string, path: string, body?: string): Promise<Response> =>
    fetch(url + path, { method, body, headers: { authorization: `Token token="${admin}"` } });
  const policy = [
    "- !layer fleet",
    ...Array.from({ length: HOSTS }, (_, h) => `- !host fleet/host-${h}`),
    `- !grant { role: !layer fleet, members: [${Array.from({ length: HOSTS }, (_, h) => `!host fleet/host-${h}`).join(", ")}] }`,
    "- !host kubernetes/bench/agent",
    "- !variable fleet/shared",
    ...Array.from({ length: GROUPS }, (_, g) => `- !variable fleet/g${g}`),
    `- !permit { role: !layer fleet, privilege: [read, execute], resources: [!variable fleet/shared, ${Array.from({ length: GROUPS }, (_, g) => `!variable fleet/g${g}`).join(", ")}] }`,
    "- !permit { role: !host kubernetes/bench/agent, privilege: [read, execute], resources: [!variable fleet/shared, !variable fleet/g0] }",
  ].join("\n");
  const loaded = await call("POST", `/policies/${ACCOUNT}/policy/root`, policy);
  if (loaded.status !== 201) throw new Error(`policy: ${loaded.status} ${await loaded.text()}`);
  const created = ((await loaded.json()) as { created_roles: Record<string, { id: string; api_key: string }> })
    .created_roles;
  const rotate = async (id: string): Promise<void> => {
    const res = await call(
      "POST",
      `/secrets/${ACCOUNT}/variable/${encodeURIComponent(id)}`,
      `value of ${id} at ${Date.now()}`,
    );
    if (res.status !== 201) throw new Error(`rotate ${id}: ${res.status}`);
  };
  for (const id of ["fleet/shared", ...Array.from({ length: GROUPS }, (_, g) => `fleet/g${g}`)]) await rotate(id);
  const tokens = await Promise.all(
    Array.from({ length: HOSTS }, (_, h) =>
      authenticate(url, ACCOUNT, `host/fleet/host-${h}`, created[`${ACCOUNT}:host:fleet/host-${h}`]!.api_key),
    ),
  );
  const admin2 = new pg.Client({ connectionString: database.url });
  await admin2.connect();
  await admin2.query("VACUUM ANALYZE");
  await admin2.end();
  const gauge = async (): Promise<number> =>
    Number(/^strongroom_secret_watchers (\d+)/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? -1);
  /** The server's own fan-out figure: waves, and their seconds in all (signal → every answer written). */
  const waves = async (): Promise<{ count: number; sum: number }> => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const read = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
    return {
      count: read("strongroom_secret_watch_wave_seconds_count"),
      sum: read("strongroom_secret_watch_wave_seconds_sum"),
    };
  };
  const getSpec = {
    url,
    connections: 20,
    warmupSeconds: 2,
    seconds: GET_SECONDS,
    kinds: [
      {
        method: "GET" as const,
        paths: [`/secrets/${ACCOUNT}/variable/${encodeURIComponent("fleet/g1")}`],
        token: tokens[0]!,
      },
    ],
  };
  /** The server's main-thread GC pauses so far, in seconds by kind (prom-client's default metric). */
  const gcPauses = async (): Promise<Record<string, number>> => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const found = text.matchAll(/^strongroom_nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} (\S+)$/gm);
    return Object.fromEntries([...found].map((m) => [m[1]!, Number(m[2])]));
  };
  /**
   * GET_ROUNDS windows: median req/s and p99, every window's req/s, the CPU (cores) of
   * `watched`, the server's GC pauses (share of the window, by kind) and the CPU time the VM's
   * host stole from this machine (`stolen`, share of all CPU time), medians.
   */
  const getRounds = async (
    watched: Record<string, () => number[]>,
  ): Promise<{
    rps: number;
    p99: number;
    windows: number[];
    cores: Record<string, number>;
    gcShare: Record<string, number>;
  }> => {
    const runs: (Awaited<ReturnType<typeof runLoad>> & { gc: Record<string, number> })[] = [];
    for (let i = 0; i < GET_ROUNDS; i++) {
      const [gc0, t0, steal] = [await gcPauses(), performance.now(), sampleSteal()];
      const run = await runLoad(getSpec, watched);
      const [gc1, seconds] = [await gcPauses(), (performance.now() - t0) / 1000];
      const gc = Object.fromEntries(Object.keys(gc1).map((k) => [k, (gc1[k]! - (gc0[k] ?? 0)) / seconds]));
      runs.push({ ...run, gc: { ...gc, stolen: steal.stop() } });
    }
    const medians = (of: (r: (typeof runs)[number]) => Record<string, number>): Record<string, number> =>
      Object.fromEntries(Object.keys(of(runs[0]!)).map((k) => [k, median(runs.map((r) => of(r)[k] ?? 0))]));
    return {
      rps: median(runs.map((r) => r.load.rps)),
      p99: median(runs.map((r) => r.load.p99)),
      windows: runs.map((r) => Math.round(r.load.rps)),
      cores: medians((r) => Object.fromEntries(Object.entries(r.usage).map(([k, u]) => [k, u.cores]))),
      gcShare: medians((r) => r.gc),
    };
  };
  const getsAlone = await getRounds({ server: () => [server.pid!] });
  results.getsAlone = getsAlone;
  console.error(`GETs, no watchers: ${JSON.stringify(getsAlone)}`);

  const fleets: Record<string, unknown>[] = [];
  for (const size of SIZES) {
    await sleep(2000);
    const rssBefore = rssMiB(server.pid!);
    const ids = Array.from({ length: GROUPS }, (_, g) => ["fleet/shared", `fleet/g${g}`]);
    const fleet = spawn(
      process.execPath,
      [
        "--max-old-space-size=4096",
        join("bench", "agents", "watchers.mjs"),
        JSON.stringify({
          url,
          account: ACCOUNT,
          count: size,
          tokens,
          ids,
          // Long-polls gather with 300 s polls (the re-poll under test comes later); streams beat at it from the start.
          timeout: STREAM ? REPOLL_SECONDS : 300,
          fetch: FETCH,
          stream: STREAM,
        }),
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    children.push(fleet);
    const lines = createInterface({ input: fleet.stdout });
    let armed = 0;
    const reports: string[] = [];
    lines.on("line", (line) => {
      const m = /^armed (\d+)/.exec(line);
      if (m) armed = Number(m[1]);
      else reports.push(line);
    });
    const report = async (
      since: number,
    ): Promise<{
      changed: { n: number; p50: number; p99: number; max: number };
      fetched: { n: number; p50: number; p99: number; max: number };
      statuses: Record<string, number>;
      repolls: number;
    }> => {
      const before = reports.length;
      fleet.stdin.write(`report ${since}\n`);
      await until("a report", 30, () => (reports.length > before ? true : undefined));
      return JSON.parse(reports.at(-1)!);
    };
    const started = Date.now();
    await until(`${size} watchers held`, 300, async () =>
      armed >= size && (await gauge()) >= size * 0.995 ? true : undefined,
    );
    const armSeconds = (Date.now() - started) / 1000;
    await sleep(2000);
    const rssHeld = rssMiB(server.pid!);
    // Held and quiet (no re-poll is due for minutes): what holding the watches alone costs.
    const quiet = sampleThreads(server.pid!);
    await sleep(QUIET_SECONDS * 1000);
    const row: Record<string, unknown> = {
      size,
      armSeconds,
      serverRssMiB: rssHeld,
      kbPerWatcher: ((rssHeld - rssBefore) * 1024) / size,
      heldQuietCores: quiet.stop(),
    };
    for (const [name, id, followers] of [
      ["all", "fleet/shared", size],
      ["10 %", "fleet/g0", Math.ceil(size / GROUPS)],
    ] as const) {
      await until("the fleet to re-arm", 120, async () => ((await gauge()) >= size * 0.995 ? true : undefined));
      await sleep(1000);
      fleet.stdin.write("reset\n");
      const cpu0 = cpuSeconds(server.pid!);
      const waves0 = await waves();
      const gc0 = await gcPauses();
      const t0 = Date.now();
      await rotate(id);
      let r = await report(t0);
      for (let i = 0; i < 100 && r.fetched.n < followers; i++) {
        await sleep(300);
        r = await report(t0);
      }
      const non200 = Object.entries(r.statuses)
        .filter(([s]) => s !== "200" && s !== "batch 200")
        .reduce((sum, [, n]) => sum + n, 0);
      row[`rotation ${name}`] = {
        followers,
        answered: r.changed.n,
        p50: r.changed.p50,
        p99: r.changed.p99,
        max: r.changed.max,
        fetchedP99: r.fetched.p99,
        non200,
        statuses: r.statuses,
        serverCpuSeconds: cpuSeconds(server.pid!) - cpu0,
        // The server's main-thread GC pauses in that time (a full collection in a wave shows here).
        gcPauseMs: await gcPauses().then((gc) =>
          Object.fromEntries(Object.entries(gc).map(([kind, s]) => [kind, Math.round((s - (gc0[kind] ?? 0)) * 1000)])),
        ),
        ...(await waves().then((w) => ({ waves: w.count - waves0.count, waveMs: (w.sum - waves0.sum) * 1000 }))),
      };
      if (name === "all") console.error(`${size} watchers held, quiet: ${JSON.stringify(row.heldQuietCores)}`);
      console.error(`${size} watchers, rotation followed by ${name}: ${JSON.stringify(row[`rotation ${name}`])}`);
    }
    if (IDLE_SECONDS > 0 && size >= 10_000) {
      await until("the fleet to re-arm", 120, async () => ((await gauge()) >= size * 0.995 ? true : undefined));
      if (!STREAM) {
        // The re-poll under test from now on (the fleet was held with 300 s polls so that it could
        // gather on a loaded machine); jittered timeouts spread out.
        fleet.stdin.write(`timeout ${REPOLL_SECONDS}\n`);
        // Waits already held keep their 300 s timeout: one rotation re-arms every watcher with the
        // new one (an earlier version measured 0 re-polls/s because of this). Each watcher's first
        // poll after it is uniform in [1, re-poll] (watchers.mjs), so after one full period the
        // fleet re-polls as a fleet of agents started at different times does: steadily.
        await rotate("fleet/shared");
        await until("the fleet to re-arm", 120, async () => ((await gauge()) >= size * 0.995 ? true : undefined));
        await sleep(REPOLL_SECONDS * 1000);
      }
      fleet.stdin.write("reset\n");
      const threads = sampleThreads(server.pid!);
      const usage = sampleUsage(() => [server.pid!]);
      const pgUsage = sampleUsage(postgresPids);
      const t0 = Date.now();
      // Streams beat every REPOLL_SECONDS from when each opened: a whole period holds each beat once.
      await sleep((STREAM ? Math.max(IDLE_SECONDS, REPOLL_SECONDS) : IDLE_SECONDS) * 1000);
      const u = usage.stop();
      const p = pgUsage.stop();
      const r = await report(t0);
      row.idle = {
        repollsPerSecond: r.repolls / ((Date.now() - t0) / 1000),
        serverCores: u.cores,
        serverThreads: threads.stop(),
        postgresCores: p.cores,
        statuses: r.statuses,
      };
      // The fleet's own CPU in that window is reported apart: real agents run on other nodes.
      const held = await getRounds({ server: () => [server.pid!], fleet: () => [fleet.pid!] });
      row.getsHeld = { ...held, ofAlone: held.rps / getsAlone.rps };
      console.error(`${size} watchers idle: ${JSON.stringify(row.idle)}; GETs held: ${JSON.stringify(row.getsHeld)}`);
    }
    fleet.stdin.write("quit\n");
    await new Promise((ok) => fleet.once("exit", ok));
    await until("the watches to end", 60, async () => ((await gauge()) === 0 ? true : undefined));
    if (row.getsHeld) {
      // The control: the same server, as old and as written to, with the fleet gone. Whatever
      // GETs lose here was not the held watches' doing.
      await sleep(2000);
      const after = await getRounds({ server: () => [server.pid!] });
      row.getsAfter = { ...after, ofAlone: after.rps / getsAlone.rps };
      row.getsHeldOfAfter = (row.getsHeld as { rps: number }).rps / after.rps;
      console.error(`${size} watchers gone, GETs: ${JSON.stringify(row.getsAfter)}`);
    }
    fleets.push(row);
  }
  results.fleets = fleets;

  // Real agents, the lean entry point, logging in with authn-kubernetes.
  const tokenFile = join(dir, "sa-token");
  writeFileSync(tokenFile, await signToken(key, serviceAccountClaims("bench", "agent")));
  const files = JSON.stringify({
    "app.env": { secrets: "- SHARED: fleet/shared\n- G0: fleet/g0\n", format: "dotenv" },
    "app.yaml": { secrets: "- shared: fleet/shared", format: "yaml" },
  });
  const startAgent = (n: number): { child: ChildProcess; out: string; spawned: number } => {
    const out = join(dir, `agent-${n}`);
    const child = spawn(process.execPath, [join("dist", "agent", "strongroom-agent.cjs")], {
      stdio: ["ignore", "ignore", "ignore"],
      env: {
        PATH: process.env.PATH,
        STRONGROOM_URL: url,
        STRONGROOM_ACCOUNT: ACCOUNT,
        STRONGROOM_LOGIN: "host/kubernetes/bench/agent",
        STRONGROOM_TOKEN_FILE: tokenFile,
        STRONGROOM_AGENT_DIR: out,
        STRONGROOM_AGENT_FILES: files,
        STRONGROOM_AGENT_HEALTH_PORT: "0",
      },
    });
    children.push(child);
    return { child, out, spawned: performance.now() };
  };
  const firstFile = async (a: {
    child: ChildProcess;
    out: string;
    spawned: number;
  }): Promise<{ ms: number; cpuMs: number; rss: number }> => {
    await until("the agent's first file", 60, () =>
      existsSync(join(a.out, "app.yaml")) && existsSync(join(a.out, "app.env")) ? true : undefined,
    );
    return { ms: performance.now() - a.spawned, cpuMs: cpuSeconds(a.child.pid!) * 1000, rss: rssMiB(a.child.pid!) };
  };
  const fast = async (a: {
    child: ChildProcess;
    out: string;
    spawned: number;
  }): Promise<{ ms: number; cpuMs: number; rss: number }> => {
    for (;;) {
      if (existsSync(join(a.out, "app.yaml")) && existsSync(join(a.out, "app.env")))
        return { ms: performance.now() - a.spawned, cpuMs: cpuSeconds(a.child.pid!) * 1000, rss: rssMiB(a.child.pid!) };
      await sleep(5);
    }
  };
  const one = startAgent(0);
  const first = await Promise.race([fast(one), firstFile(one)]);
  await sleep(IDLE_SECONDS * 1000);
  const agentOne = {
    firstFileMs: first.ms,
    cpuToFirstFileMs: first.cpuMs,
    rssAfterFirstWriteMiB: first.rss,
    rssAfterIdleMiB: rssMiB(one.child.pid!),
    idleSeconds: IDLE_SECONDS,
  };
  one.child.kill("SIGTERM");
  console.error(`one agent: ${JSON.stringify(agentOne)}`);
  const twenty = Array.from({ length: 20 }, (_, i) => startAgent(i + 1));
  const firsts = await Promise.all(twenty.map(fast));
  await sleep(5000);
  const rss20 = twenty.map((a) => rssMiB(a.child.pid!));
  for (const a of twenty) a.child.kill("SIGTERM");
  const agentsTwenty = {
    firstFileP50Ms: median(firsts.map((f) => f.ms)),
    firstFileMaxMs: Math.max(...firsts.map((f) => f.ms)),
    cpuToFirstFileP50Ms: median(firsts.map((f) => f.cpuMs)),
    rssMedianMiB: median(rss20),
    rssMaxMiB: Math.max(...rss20),
  };
  console.error(`20 agents at once: ${JSON.stringify(agentsTwenty)}`);
  results.agents = { one: agentOne, twenty: agentsTwenty };
  results.loadAfter = loadAverage();

  // The table (Markdown), for bench/README.md.
  const f = (n: unknown, d = 0): string => (typeof n === "number" ? n.toFixed(d) : "—");
  const percentOfCore = (threads: Record<string, number>): number =>
    Object.values(threads).reduce((sum, cores) => sum + cores, 0) * 100;
  const rows = [
    [
      "watchers",
      "held in",
      "server RSS / per watch",
      "held, quiet: % of a core (main thread)",
      "rotation → all: answered, p50 / p99 / max ms, non-200",
      "server fan-out → all: waves, ms",
      "→ 10 %: p50 / p99 ms",
      `idle at ${REPOLL_SECONDS} s re-polls: re-polls/s, CPU server + pg`,
      `GETs (median of ${GET_ROUNDS}) held / alone / after the fleet left`,
    ],
  ];
  for (const r of fleets as Record<string, any>[]) {
    const all = r["rotation all"];
    const tenth = r["rotation 10 %"];
    rows.push([
      String(r.size),
      `${f(r.armSeconds, 1)} s`,
      `${f(r.serverRssMiB)} MiB / ${f(r.kbPerWatcher, 1)} KB`,
      `${f(percentOfCore(r.heldQuietCores), 1)} (${f((r.heldQuietCores.main ?? 0) * 100, 1)})`,
      `${all.answered}/${all.followers}, ${f(all.p50)} / ${f(all.p99)} / ${f(all.max)}, ${all.non200}`,
      `${f(all.waves)}, ${f(all.waveMs)}`,
      `${f(tenth.p50)} / ${f(tenth.p99)}`,
      r.idle
        ? `${f(r.idle.repollsPerSecond)}, ${f(r.idle.serverCores * 100, 1)} % (main ${f((r.idle.serverThreads.main ?? 0) * 100, 1)} %) + ${f(r.idle.postgresCores * 100, 1)} %`
        : "—",
      r.getsHeld
        ? `${f(r.getsHeld.rps)} / ${f(getsAlone.rps)} / ${f(r.getsAfter?.rps)} (held ${f(r.getsHeldOfAfter * 100)} % of after; fleet ${f(r.getsHeld.cores.fleet * 100, 1)} % of a core)`
        : "—",
    ]);
  }
  const line = (cells: string[]): string => `| ${cells.join(" | ")} |`;
  const table = [line(rows[0]!), line(rows[0]!.map(() => "---")), ...rows.slice(1).map(line)].join("\n");
  const agentTable = [
    line([
      "agent (lean entry)",
      "first file",
      "CPU to first file",
      "RSS after first write",
      `RSS after ${IDLE_SECONDS} s idle`,
    ]),
    line(["---", "---", "---", "---", "---"]),
    line([
      "one",
      `${f(agentOne.firstFileMs)} ms`,
      `${f(agentOne.cpuToFirstFileMs)} ms`,
      `${f(agentOne.rssAfterFirstWriteMiB, 1)} MiB`,
      `${f(agentOne.rssAfterIdleMiB, 1)} MiB`,
    ]),
    line([
      "20 at once",
      `p50 ${f(agentsTwenty.firstFileP50Ms)} / max ${f(agentsTwenty.firstFileMaxMs)} ms`,
      `p50 ${f(agentsTwenty.cpuToFirstFileP50Ms)} ms`,
      `median ${f(agentsTwenty.rssMedianMiB, 1)} / max ${f(agentsTwenty.rssMaxMiB, 1)} MiB`,
      "—",
    ]),
  ].join("\n");
  console.log(
    `\nmode: ${STREAM ? "streams (stream=true)" : "long-polls"}; machine: ${JSON.stringify(results.machine)}; load ${String(results.loadBefore)} → ${String(results.loadAfter)}\n\n${table}\n\n${agentTable}\n`,
  );
  writeFileSync(join("bench", "agents", "results.json"), `${JSON.stringify(results, null, 2)}\n`);
} finally {
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  await sleep(3000);
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await issuer.close();
  await database.stop();
  rmSync(dir, { recursive: true, force: true });
}
