/* global process, performance, Buffer, URL, setTimeout, clearTimeout, setInterval, clearInterval */
// A fleet of change-stream watchers, as agents hold them, in its own process (bench/agents/run.ts).
// Input: one JSON spec in argv[2]. With stream: true each watcher holds one
// GET /secrets/watch?stream=true as the agent does (heartbeats count as re-polls; batch reads
// share a pool of connections). Else each loops GET /secrets/watch with its cursor and an
// agent-like jittered timeout (timeout − up to a quarter); on "changed" it reads its variables
// in one batch (GET /secrets, as the agent does; not with fetch: false) and re-arms.
// Commands on stdin, one per line:
//   report <epoch ms>   → one JSON line: answers with changed=true after that instant (latency
//                         from it to the answer, and to the batch read), statuses, re-polls.
//   timeout <seconds>   → the timeout of every later poll (the next one spread uniformly)
//   quit
import net from "node:net";
import { createInterface } from "node:readline";

/**
 * @type {{ url: string, account: string, count: number, tokens: string[], ids: string[][],
 *   timeout: number, fetch?: boolean, stream?: boolean }}
 */
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

/**
 * One stream (`stream=true`) on its own connection, as the agent holds it: `onLine(answer, at)`
 * for each NDJSON line as its chunk arrives. Resolves with the status when the response ends
 * (or the connection is lost: "error").
 */
class StreamConnection {
  buffer = Buffer.alloc(0);
  text = "";

  follow(path, token, timeoutMs, onLine) {
    return new Promise((resolve) => {
      const socket = net.connect(Number(target.port), target.hostname);
      socket.setNoDelay(true);
      let status;
      let ended = false;
      const end = (result) => {
        if (ended) return;
        ended = true;
        socket.destroy();
        resolve(result);
      };
      socket.setTimeout(timeoutMs, () => end("timeout"));
      socket.on("error", () => end("error"));
      socket.on("close", () => end(status ?? "error"));
      socket.on("data", (chunk) => {
        const at = now();
        this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
        if (status === undefined) {
          const head = this.buffer.indexOf("\r\n\r\n");
          if (head < 0) return;
          status = Number(this.buffer.subarray(9, 12).toString("latin1"));
          this.buffer = this.buffer.subarray(head + 4);
          if (status !== 200) return end(status); // an error's body is not needed
        }
        // Chunked: "<hex size>\r\n<data>\r\n", ended by a chunk of size 0.
        for (;;) {
          const line = this.buffer.indexOf("\r\n");
          if (line < 0) return;
          const size = parseInt(this.buffer.subarray(0, line).toString("latin1"), 16);
          if (size === 0) return end(status);
          if (this.buffer.length < line + 2 + size + 2) return;
          this.text += this.buffer.subarray(line + 2, line + 2 + size).toString();
          this.buffer = this.buffer.subarray(line + 2 + size + 2);
          for (let nl = this.text.indexOf("\n"); nl >= 0; nl = this.text.indexOf("\n")) {
            onLine(JSON.parse(this.text.slice(0, nl)), at);
            this.text = this.text.slice(nl + 1);
          }
        }
      });
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${target.host}\r\nAuthorization: Token token="${token}"\r\nConnection: keep-alive\r\n\r\n`,
      );
    });
  }
}

/**
 * Batch reads after a change, for streams: a shared pool of kept-alive connections (an agent
 * opens a second one beside its stream; 10,000 more sockets would pass the open-file limit
 * here, and the server's work per read is the same).
 */
const fetchPool = Array.from({ length: 500 }, () => new Connection());
const fetchQueue = [];
function pooledFetch(path, token) {
  return new Promise((resolve) => {
    fetchQueue.push({ path, token, resolve });
    const idle = fetchPool.pop();
    if (idle) void drain(idle);
  });
}
async function drain(connection) {
  for (let job = fetchQueue.shift(); job; job = fetchQueue.shift())
    job.resolve(await connection.request(job.path, job.token, 30_000));
  fetchPool.push(connection);
}

async function streamWatcher(i) {
  const token = spec.tokens[i % spec.tokens.length];
  const list = spec.ids[i % spec.ids.length].map(full).join(",");
  let cursor;
  for (;;) {
    const stream = new StreamConnection();
    const status = await stream.follow(
      `/secrets/watch?variable_ids=${list}&stream=true&timeout=${spec.timeout}${cursor ? `&cursor=${cursor}` : ""}`,
      token,
      (spec.timeout + 15) * 1000,
      (answer, at) => {
        if (!cursor) state.armed++;
        else if (answer.changed) {
          state.changed.push(at);
          if (spec.fetch === false) state.fetched.push(at);
          else
            void pooledFetch(`/secrets?variable_ids=${list}`, token).then((batch) => {
              count(`batch ${batch.status}`);
              state.fetched.push(batch.at);
            });
        } else state.repolls++;
        count(200);
        cursor = answer.cursor;
      },
    );
    if (status !== 200) count(status);
    await new Promise((ok) => setTimeout(ok, 250 + Math.random() * 750));
  }
}

async function watcher(i) {
  if (spec.stream) return streamWatcher(i);
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

// Streams: the batch-read pool connects first (500 connects in the first wave's turn delayed
// the fleet's own reading of its answers by ~200 ms at 1,000 followers).
if (spec.stream)
  await Promise.all(
    [...fetchPool].map((c) =>
      c.request(`/secrets?variable_ids=${spec.ids[0].map(full).join(",")}`, spec.tokens[0], 30_000),
    ),
  );
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
