/** The bench's one table (stdout) and bench/results.json. */
import { cpus } from "node:os";
import type { Usage } from "./proc-stats.js";
import type { LoadResult } from "./processes.js";

export interface Measured {
  load: LoadResult;
  /** Server (or floor) process, and the Postgres backends, while measuring. */
  process: Usage;
  postgres: Usage;
  /** 1-minute load average just before the run (other agents share the machine). */
  loadBefore: number;
}

export interface ScenarioResult {
  name: string;
  connections: number;
  target: string;
  strongroom: Measured;
  floor?: Measured;
}

/** Two halves of one measurement: throughput over both, latency percentiles averaged (an approximation), peaks the larger. */
export function combine(a: Measured, b: Measured): Measured {
  const seconds = a.load.requests / a.load.rps + b.load.requests / b.load.rps;
  const requests = a.load.requests + b.load.requests;
  const mean = (x: number, y: number): number => (x + y) / 2;
  return {
    load: {
      ...a.load,
      requests,
      rps: requests / seconds,
      p50: mean(a.load.p50, b.load.p50),
      p99: mean(a.load.p99, b.load.p99),
      non2xx: a.load.non2xx + b.load.non2xx,
      errors: a.load.errors + b.load.errors,
      timeouts: a.load.timeouts + b.load.timeouts,
    },
    process: {
      cores: mean(a.process.cores, b.process.cores),
      peakRssMiB: Math.max(a.process.peakRssMiB, b.process.peakRssMiB),
    },
    postgres: {
      cores: mean(a.postgres.cores, b.postgres.cores),
      peakRssMiB: Math.max(a.postgres.peakRssMiB, b.postgres.peakRssMiB),
    },
    loadBefore: mean(a.loadBefore, b.loadBefore),
  };
}

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

function row(s: ScenarioResult): string[] {
  const m = s.strongroom;
  const f = s.floor;
  const ratio = f ? `${fmt(m.load.rps / f.load.rps, 2)}× (p99 ${fmt(m.load.p99 / f.load.p99, 2)}×)` : "—";
  const failures = m.load.non2xx + m.load.errors + m.load.timeouts;
  return [
    s.name,
    String(s.connections),
    fmt(m.load.rps),
    `${fmt(m.load.p50)} / ${fmt(m.load.p99)}`,
    `${fmt(m.process.cores * 100)}% / ${fmt(m.postgres.cores * 100)}%`,
    fmt(m.process.peakRssMiB),
    f
      ? `${fmt(f.load.rps)} (${fmt(f.load.p50)} / ${fmt(f.load.p99)} ms, ${fmt(f.process.cores * 100)}% / ${fmt(f.postgres.cores * 100)}%)`
      : "—",
    ratio,
    s.target,
    failures ? `${failures} FAILED` : "ok",
    fmt(m.loadBefore, 1),
  ];
}

const HEADER = [
  "scenario",
  "conn",
  "req/s",
  "p50 / p99 ms",
  "CPU server / pg",
  "peak RSS MiB",
  "floor req/s (p50 / p99, CPU)",
  "ratio to floor",
  "target",
  "answers",
  "load",
];

/** A Markdown table: readable on a terminal and pasteable into bench/README.md. */
export function table(results: ScenarioResult[]): string {
  const rows = [HEADER, ...results.map(row)];
  const widths = HEADER.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(HEADER), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.slice(1).map(line)].join("\n");
}

export function machine(): Record<string, unknown> {
  const list = cpus();
  return {
    cpus: list.length,
    model: list[0]?.model ?? "unknown",
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}
