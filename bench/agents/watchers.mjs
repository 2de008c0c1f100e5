/* global process, performance, Buffer, URL, setTimeout, clearTimeout, setInterval, clearInterval */
// A fleet of change-stream watchers, as agents hold them, in its own process (bench/agents/run.ts).
// Input: one JSON spec in argv[2]. Each watcher loops GET /secrets/watch with its cursor and an
// agent-like jittered timeout (timeout − up to a quarter); on "changed" it reads its variables
// in one batch (GET /secrets, as the agent does; not with fetch: false) and re-arms. Commands on stdin, one per line:
//   report <epoch ms>   → one JSON line: answers with changed=true after that instant (latency
//                         from it to the answer, and to the batch read), statuses, re-polls.
//   timeout <seconds>   → the timeout of every later poll (the next one spread uniformly)
//   quit
import net from "node:net";
import { createInterface } from "node:readline";

/** @type {{ url: string, account: string, count: number, tokens: string[], ids: string[][], timeout: number, fetch?: boolean }} */
const spec = JSON.parse(process.argv[2]);
const target = new URL(spec.url);
const now = () => performance.timeOrigin + performance.now();
const full = (id) => encodeURIComponent(`${spec.account}:variable:${id}`);

/** Bumped by each `timeout` command (even to the same value): every watcher spreads its next poll. */
let timeoutGeneration = 0;
const state = { changed: [], fetched: [], statuses: {}, repolls: 0, armed: 0 };
const count = (status) => (state.statuses[status] = (state.statuses[status] ?? 0) + 1);

/**
 * One kept-alive connection, one request at a time, as an agent holds it. Raw HTTP/1.1 over a
 * socket rather than node:http: 10,000 of these share this process and 2 cores with the server,
 * and node:http's per-response work delayed when an answer was *seen* by seconds in a wave.
 * Each answer is stamped when its last byte is read (`at`). The server always sends
 * Content-Length (or chunked, for errors only the status of which is used).
 */
class Connection {
  /** @type {net.Socket | undefined} */ socket;
  buffer = Buffer.alloc(0);
  /** @type {((r: { status: number | string, body?: string, at: number }) => void) | undefined} */ pending;

  request(path, token, timeoutMs) {
    return new Promise((resolve) => {
      if (!this.socket) this.#connect();
      const timer = setTimeout(() => this.socket?.destroy(), timeoutMs);
      this.pending = (r) => {
        clearTimeout(timer);
        this.pending = undefined;
        resolve(r);
      };
      this.socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${target.host}\r\nAuthorization: Token token="${token}"\r\nConnection: keep-alive\r\n\r\n`,
      );
    });
  }

  #connect() {
    const socket = net.connect(Number(target.port), target.hostname);
    socket.setNoDelay(true);
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      this.#parse(now());
    });
    const lost = () => {
      if (this.socket === socket) this.socket = undefined;
      this.pending?.({ status: "error", at: now() });
    };
    socket.on("error", lost);
    socket.on("close", lost);
  }

  #parse(at) {
    const head = this.buffer.indexOf("\r\n\r\n");
    if (head < 0 || !this.pending) return;
    const headers = this.buffer.subarray(0, head).toString("latin1");
    const status = Number(headers.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(headers);
    let end;
    if (length) end = head + 4 + Number(length[1]);
    else {
      const last = this.buffer.indexOf("\r\n0\r\n\r\n", head);
      if (last < 0) return;
      end = last + 7;
    }
    if (this.buffer.length < end) return;
    const body = this.buffer.subarray(head + 4, end).toString();
    this.buffer = this.buffer.subarray(end);
    if (/\r\nconnection:\s*close/i.test(headers)) this.socket?.destroy();
    this.pending({ status, body, at });
  }
}

async function watcher(i) {
  const token = spec.tokens[i % spec.tokens.length];
  const ids = spec.ids[i % spec.ids.length];
  const list = ids.map(full).join(",");
  const connection = new Connection();
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
    const res = await connection.request(
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
      state.changed.push(res.at);
      if (spec.fetch !== false) {
        const batch = await connection.request(`/secrets?variable_ids=${list}`, token, 30_000);
        count(`batch ${batch.status}`);
        state.fetched.push(batch.at);
      } else state.fetched.push(res.at);
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
