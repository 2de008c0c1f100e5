/**
 * `npm run bench`: Strongroom beside the floor (bench/floor/floor-server.mjs, the least a
 * server can do for the same read) on one embedded Postgres, driven by autocannon in its own
 * process. Prints one Markdown table and writes bench/results.json. See bench/README.md.
 *
 * Env: BENCH_SHORT=1 (smoke run: 1 s warm-up, 3 s measured, no results.json),
 *      BENCH_ONLY=get,batch100 (run only these scenarios), BENCH_SECONDS=N (measured seconds).
 */
import pg from "pg";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDataKey } from "../src/crypto/aead.js";
import { startEmbeddedPostgres } from "../src/storage/embedded.js";
import {
  authenticate,
  hostLogin,
  loadDataset,
  variableId,
  APPS,
  VARIABLES_PER_APP,
  HOSTS_PER_APP,
} from "./lib/dataset.js";
import { childrenOf, loadAverage } from "./lib/proc-stats.js";
import { runLoad, startFloor, startStrongroom, type LoadSpec } from "./lib/processes.js";
import { combine, machine, table, type Measured, type ScenarioResult } from "./lib/report.js";

const SHORT = process.env.BENCH_SHORT === "1";
const WARMUP = SHORT ? 1 : 3;
const SECONDS = Number(process.env.BENCH_SECONDS ?? (SHORT ? 3 : 12));
const ONLY = process.env.BENCH_ONLY?.split(",");
const ACCOUNT = "bench";

const dir = mkdtempSync(join(tmpdir(), "strongroom-bench-"));
const logFile = join(dir, "server.log");
const database = await startEmbeddedPostgres(dir, () => undefined);
const postmaster = Number(readFileSync(join(dir, "pg", "postmaster.pid"), "utf8").split("\n")[0]);
const postgresPids = (): number[] => childrenOf(postmaster);
const stops: (() => Promise<void>)[] = [];

try {
  const server = await startStrongroom({
    databaseUrl: database.url,
    dataKey: generateDataKey(),
    account: ACCOUNT,
    logFile,
  });
  stops.push(() => server.stop());
  const floor = await startFloor(database.url, APPS * VARIABLES_PER_APP);
  stops.push(() => floor.stop());
  const { hostKeys } = await loadDataset(server.url, ACCOUNT, server.adminApiKey);
  // Steady state, as a server that has run a while: statistics and visibility maps current,
  // so autovacuum does not wake up in the middle of a measurement.
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  await admin.query("VACUUM ANALYZE");
  await admin.end();
  console.error(
    `data set loaded: ${APPS * VARIABLES_PER_APP} variables, ${hostKeys.size} hosts; server log: ${logFile}`,
  );

  // What host apps/app0/host-0 may read (through layer → consumers group), and the floor's equivalent.
  const readable = Array.from({ length: VARIABLES_PER_APP }, (_, v) => variableId(0, v));
  const floorIds = readable.map((_, v) => `bench/v${v}`);
  const batches = (ids: string[], size: number, full: (id: string) => string): string[] =>
    Array.from(
      { length: ids.length - size + 1 },
      (_, s) =>
        `/secrets?variable_ids=${ids
          .slice(s, s + size)
          .map((id) => encodeURIComponent(full(id)))
          .join(",")}`,
    );
  const everyVariable = Array.from({ length: APPS * VARIABLES_PER_APP }, (_, i) =>
    variableId(Math.floor(i / VARIABLES_PER_APP), i % VARIABLES_PER_APP),
  );
  const logins = Array.from({ length: APPS * HOSTS_PER_APP }, (_, i) =>
    hostLogin(Math.floor(i / HOSTS_PER_APP), i % HOSTS_PER_APP),
  );
  const secretPath = (id: string): string => `/secrets/${ACCOUNT}/variable/${encodeURIComponent(id)}`;

  interface Scenario {
    key: string;
    name: string;
    connections: number;
    target: string;
    strongroom: (tokens: { host: string; admin: string }) => LoadSpec["kinds"];
    floor?: LoadSpec["kinds"];
  }
  const scenarios: Scenario[] = [
    {
      key: "get",
      name: "GET one secret",
      connections: 50,
      target: "≥ 0.8× floor, p99 ≤ 1.5×",
      strongroom: (t) => [{ method: "GET", paths: readable.map(secretPath), token: t.host }],
      floor: [
        {
          method: "GET",
          paths: floorIds.map((id) => `/secrets/acct/variable/${encodeURIComponent(id)}`),
          token: floor.token,
        },
      ],
    },
    {
      key: "batch10",
      name: "batch of 10",
      connections: 50,
      target: "—",
      strongroom: (t) => [
        { method: "GET", paths: batches(readable, 10, (id) => `${ACCOUNT}:variable:${id}`), token: t.host },
      ],
      floor: [{ method: "GET", paths: batches(floorIds, 10, (id) => `acct:variable:${id}`), token: floor.token }],
    },
    {
      key: "batch100",
      name: "batch of 100",
      connections: 50,
      target: "≥ 0.8× floor",
      strongroom: (t) => [
        { method: "GET", paths: batches(readable, 100, (id) => `${ACCOUNT}:variable:${id}`), token: t.host },
      ],
      floor: [{ method: "GET", paths: batches(floorIds, 100, (id) => `acct:variable:${id}`), token: floor.token }],
    },
    {
      key: "post",
      name: "POST a new version",
      connections: 16,
      target: "≥ 1,000 req/s",
      strongroom: (t) => [{ method: "POST", paths: everyVariable.map(secretPath), token: t.admin, randomBody: true }],
    },
    {
      key: "authn",
      name: "authenticate (API key)",
      connections: 20,
      target: "≥ 3,000 req/s",
      strongroom: () => [
        {
          method: "POST",
          paths: logins.map((l) => `/authn/${ACCOUNT}/${encodeURIComponent(l)}/authenticate`),
          bodies: logins.map((l) => hostKeys.get(l)!),
        },
      ],
    },
    {
      key: "mix",
      name: "90/10 read/write",
      connections: 50,
      target: "—",
      strongroom: (t) => [
        { method: "GET", paths: readable.map(secretPath), token: t.host, weight: 9 },
        { method: "POST", paths: readable.map(secretPath), token: t.admin, randomBody: true, weight: 1 },
      ],
    },
  ];

  const measure = async (
    url: string,
    pid: number,
    connections: number,
    kinds: LoadSpec["kinds"],
    seconds = SECONDS,
    warmup = WARMUP,
  ): Promise<Measured> => {
    const loadBefore = loadAverage();
    const { load, usage } = await runLoad(
      { url, connections, warmupSeconds: warmup, seconds, kinds },
      { process: () => [pid], postgres: postgresPids },
    );
    return { load, process: usage.process!, postgres: usage.postgres!, loadBefore };
  };
  // Other work on the machine drifts: the floor runs half before and half after Strongroom,
  // so both are measured around the same moment on average.
  const measureFloor = async (
    connections: number,
    kinds: LoadSpec["kinds"],
    during: () => Promise<Measured>,
  ): Promise<[Measured, Measured]> => {
    const before = await measure(floor.url, floor.pid, connections, kinds, SECONDS / 2);
    const strongroom = await during();
    const after = await measure(floor.url, floor.pid, connections, kinds, SECONDS / 2, 1);
    return [combine(before, after), strongroom];
  };

  const results: ScenarioResult[] = [];
  for (const s of scenarios.filter((sc) => !ONLY || ONLY.includes(sc.key))) {
    // Fresh tokens per scenario: a run may outlast a token's 8 minutes.
    const tokens = {
      host: await authenticate(server.url, ACCOUNT, hostLogin(0, 0), hostKeys.get(hostLogin(0, 0))!),
      admin: await authenticate(server.url, ACCOUNT, "admin", server.adminApiKey),
    };
    const measureStrongroom = (): Promise<Measured> =>
      measure(server.url, server.pid, s.connections, s.strongroom(tokens));
    const [floorRun, strongroom] = s.floor
      ? await measureFloor(s.connections, s.floor, measureStrongroom)
      : [undefined, await measureStrongroom()];
    results.push({
      name: s.name,
      connections: s.connections,
      target: s.target,
      strongroom,
      ...(floorRun ? { floor: floorRun } : {}),
    });
    console.error(
      `${s.name}: ${strongroom.load.rps.toFixed(0)} req/s${floorRun ? ` (floor ${floorRun.load.rps.toFixed(0)})` : ""}`,
    );
  }

  console.log(table(results));
  const report = {
    date: new Date().toISOString(),
    machine: machine(),
    short: SHORT,
    warmupSeconds: WARMUP,
    seconds: SECONDS,
    scenarios: results,
  };
  if (!SHORT && !ONLY) writeFileSync(join("bench", "results.json"), JSON.stringify(report, null, 2) + "\n");
  const failed = results.some(
    (r) => r.strongroom.load.non2xx + r.strongroom.load.errors + r.strongroom.load.timeouts > 0,
  );
  if (failed) {
    console.error(`some requests failed: see ${logFile}`);
    process.exitCode = 1;
  }
} finally {
  for (const stop of stops.reverse()) await stop();
  await database.stop();
  if (!process.exitCode) rmSync(dir, { recursive: true, force: true });
}
