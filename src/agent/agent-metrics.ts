/**
 * The agent's /metrics: a few counters and gauges in Prometheus text, plus the process
 * figures (`strongroom_agent_process_*`), without prom-client (about 20 MB of RSS and 120 ms
 * of start-up: bench/README.md, agents).
 */
type Labels = Record<string, string>;

class Series {
  readonly #values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge",
  ) {}

  static key(labels: Labels | undefined): string {
    if (!labels) return "";
    const parts = Object.entries(labels).map(
      ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
    );
    return parts.length ? `{${parts.join(",")}}` : "";
  }

  inc(labels?: Labels, by = 1): void {
    const key = Series.key(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }

  set(value: number, labels?: Labels): void {
    this.#values.set(Series.key(labels), value);
  }

  get(labels?: Labels): number | undefined {
    return this.#values.get(Series.key(labels));
  }

  text(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    if (this.#values.size === 0 && this.type === "counter") lines.push(`${this.name} 0`);
    for (const [key, value] of this.#values) lines.push(`${this.name}${key} ${value}`);
    return lines.join("\n");
  }
}

export class Counter {
  readonly #series: Series;
  constructor(name: string, help: string) {
    this.#series = new Series(name, help, "counter");
  }
  inc(labels?: Labels): void {
    this.#series.inc(labels);
  }
  get(labels?: Labels): number {
    return this.#series.get(labels) ?? 0;
  }
  text(): string {
    return this.#series.text();
  }
}

export class Gauge {
  readonly #series: Series;
  constructor(name: string, help: string) {
    this.#series = new Series(name, help, "gauge");
  }
  set(value: number): void {
    this.#series.set(value);
  }
  text(): string {
    return this.#series.text();
  }
}

const START = Date.now() / 1000;

function processText(): string {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const p = "strongroom_agent_process";
  return [
    `# HELP ${p}_cpu_seconds_total Total user and system CPU time spent in seconds.`,
    `# TYPE ${p}_cpu_seconds_total counter`,
    `${p}_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
    `# HELP ${p}_resident_memory_bytes Resident memory size in bytes.`,
    `# TYPE ${p}_resident_memory_bytes gauge`,
    `${p}_resident_memory_bytes ${memory.rss}`,
    `# HELP ${p}_heap_bytes Process heap size in bytes.`,
    `# TYPE ${p}_heap_bytes gauge`,
    `${p}_heap_bytes ${memory.heapUsed}`,
    `# HELP ${p}_start_time_seconds Start time of the process since unix epoch in seconds.`,
    `# TYPE ${p}_start_time_seconds gauge`,
    `${p}_start_time_seconds ${Math.round(START)}`,
  ].join("\n");
}

export class AgentMetrics {
  readonly syncs = new Counter(
    "strongroom_agent_syncs_total",
    "Fetch-render-write cycles by outcome: written, unchanged, denied, unreachable, render_error",
  );
  readonly filesWritten = new Counter(
    "strongroom_agent_files_written_total",
    "Files rewritten (atomically) because their content changed",
  );
  readonly lastSuccess = new Gauge(
    "strongroom_agent_last_success_timestamp_seconds",
    "When the files last matched the server (Unix time)",
  );
  readonly ready = new Gauge("strongroom_agent_ready", "1 once every file has been written");
  readonly registry = {
    contentType: "text/plain; version=0.0.4; charset=utf-8",
    metrics: (): Promise<string> =>
      Promise.resolve(
        `${[this.syncs, this.filesWritten, this.lastSuccess, this.ready].map((m) => m.text()).join("\n")}${this.defaults ? `\n${processText()}` : ""}\n`,
      ),
  };

  /** `defaults`: the process figures too (as prom-client's default metrics, a subset). */
  constructor(private readonly defaults = true) {}
}
