/* global process, performance, Buffer, setTimeout, setInterval, clearInterval */
// A fleet of change-stream watchers, as agents hold them, in its own process (bench/agents/run.ts).
// Input: one JSON spec in argv[2]. Each watcher loops GET /secrets/watch with its cursor and an
// agent-like jittered timeout (timeout − up to a quarter); on "changed" it reads its variables
// in one batch (GET /secrets, as the agent does; not with fetch: false) and re-arms. Commands on stdin, one per line:
//   report <epoch ms>   → one JSON line: answers with changed=true after that instant (latency
//                         from it to the answer, and to the batch read), statuses, re-polls.
//   timeout <seconds>   → the timeout of every later poll (the next one spread uniformly)
//   quit
import http from "node:http";
import { createInterface } from "node:readline";

/** @type {{ url: string, account: string, count: number, tokens: string[], ids: string[][], timeout: number, fetch?: boolean }} */
const spec = JSON.parse(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const now = () => performance.timeOrigin + performance.now();
const full = (id) => encodeURIComponent(`${spec.account}:variable:${id}`);

/** Bumped by each `timeout` command (even to the same value): every watcher spreads its next poll. */
let timeoutGeneration = 0;
const state = { changed: [], fetched: [], statuses: {}, repolls: 0, armed: 0 };
const count = (status) => (state.statuses[status] = (state.statuses[status] ?? 0) + 1);

function get(path, token, timeoutMs) {
  return new Promise((resolve) => {
    const req = http.get(
      spec.url + path,
      { agent, headers: { authorization: `Token token="${token}"` }, timeout: timeoutMs },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
        res.on("error", () => resolve({ status: "error" }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve({ status: "error" }));
  });
}

async function watcher(i) {
  const token = spec.tokens[i % spec.tokens.length];
  const ids = spec.ids[i % spec.ids.length];
  const list = ids.map(full).join(",");
  let cursor;
  let first = true;
  let seenGeneration = timeoutGeneration;
  for (;;) {
    // After a `timeout` command, each watcher's first poll is uniform in [1, timeout]: the fleet
    // spreads out as agents started at different times are; afterwards the agent's own jitter.
    const spread = seenGeneration !== timeoutGeneration;
    seenGeneration = timeoutGeneration;
    const timeout = spread
      ? 1 + Math.floor(Math.random() * spec.timeout)
      : Math.max(1, spec.timeout - Math.floor(Math.random() * Math.ceil(spec.timeout / 4)));
    if (cursor && first) {
      first = false;
      state.armed++;
    }
    const res = await get(
      `/secrets/watch?variable_ids=${list}&timeout=${timeout}${cursor ? `&cursor=${cursor}` : ""}`,
      token,
      (timeout + 15) * 1000,
    );
    count(res.status);
    if (res.status !== 200) {
      await new Promise((ok) => setTimeout(ok, 250 + Math.random() * 750));
      continue;
    }
    const answer = JSON.parse(res.body);
    if (cursor && answer.changed) {
      state.changed.push(now());
      if (spec.fetch !== false) {
        const batch = await get(`/secrets?variable_ids=${list}`, token, 30_000);
        count(`batch ${batch.status}`);
      }
      state.fetched.push(now());
    } else if (cursor) state.repolls++;
    cursor = answer.cursor;
  }
}

for (let i = 0; i < spec.count; i++) {
  void watcher(i);
  if (i % 500 === 499) await new Promise((ok) => setTimeout(ok, 20)); // arm in steps, as a fleet rolls out
}

const percentile = (sorted, p) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null;
const summary = (times, since) => {
  const sorted = times
    .filter((t) => t >= since)
    .map((t) => t - since)
    .sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? null };
};

const timer = setInterval(() => process.stdout.write(`armed ${state.armed}\n`), 500);
createInterface({ input: process.stdin }).on("line", (line) => {
  const [command, arg] = line.trim().split(" ");
  if (command === "report") {
    const since = Number(arg);
    process.stdout.write(
      `${JSON.stringify({ changed: summary(state.changed, since), fetched: summary(state.fetched, since), statuses: state.statuses, repolls: state.repolls })}\n`,
    );
  } else if (command === "reset") {
    state.statuses = {};
    state.repolls = 0;
  } else if (command === "timeout") {
    spec.timeout = Number(arg);
    timeoutGeneration++;
  } else if (command === "quit") {
    clearInterval(timer);
    process.exit(0);
  }
});
