/**
 * CPU and memory of processes, read from /proc (Linux only): what `top` shows, without it.
 * CPU is utime + stime in clock ticks (USER_HZ is 100 on every Linux we run on).
 */
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100;

function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces; everything after its ')' is space-separated.
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by `pid` (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  // After ')': state(0) ppid(1) … utime(11) stime(12).
  return f ? (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND : 0;
}

/**
 * CPU seconds per thread of `pid`, grouped: "main" (the event loop) and the other threads by
 * name (V8's GC and compiler workers, libuv's pool): which of them an idle cost is.
 */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = Number(tid) === pid ? "main" : text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"));
      const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** Cores per thread group of `pid` between now and `stop()` (see threadCpuSeconds). */
export function sampleThreads(pid: number): { stop(): Record<string, number> } {
  const started = performance.now();
  const before = threadCpuSeconds(pid);
  return {
    stop() {
      const seconds = (performance.now() - started) / 1000;
      const out: Record<string, number> = {};
      for (const [name, cpu] of threadCpuSeconds(pid)) {
        const used = cpu - (before.get(name) ?? 0);
        if (used > 0) out[name] = used / seconds;
      }
      return out;
    },
  };
}

/** Resident set size in MiB (0 once it is gone). */
export function rssMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** The direct children of `pid` (Postgres backends of a postmaster). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    if (f && Number(f[1]) === pid) out.push(Number(name));
  }
  return out;
}

/** 1-minute load average: other work on the machine skews every figure, so it is reported beside them. */
/** CPU time stolen from this VM by its host, as a share of all CPU time since `sampleSteal()` (from /proc/stat). */
export function sampleSteal(): { stop(): number } {
  const read = (): { steal: number; total: number } => {
    const ticks = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    return { steal: ticks[7] ?? 0, total: ticks.reduce((sum, t) => sum + t, 0) };
  };
  const start = read();
  return {
    stop() {
      const end = read();
      return end.total > start.total ? (end.steal - start.steal) / (end.total - start.total) : 0;
    },
  };
}

export function loadAverage(): number {
  return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
}

export interface Usage {
  /** CPU used while measuring, in cores (1.0 = one core busy all the time). */
  cores: number;
  peakRssMiB: number;
}

/**
 * Samples the processes `pids()` returns until `stop()`: CPU as the difference over the
 * window, RSS as the largest sum seen (sampled every 200 ms).
 */
export function sampleUsage(pids: () => number[]): { stop(): Usage } {
  const started = performance.now();
  const cpu0 = new Map(pids().map((p) => [p, cpuSeconds(p)]));
  let peak = 0;
  const sample = (): void => {
    peak = Math.max(
      peak,
      pids().reduce((sum, p) => sum + rssMiB(p), 0),
    );
  };
  sample();
  const timer = setInterval(sample, 200);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const used = pids().reduce((sum, p) => sum + cpuSeconds(p) - (cpu0.get(p) ?? 0), 0);
      return { cores: used / ((performance.now() - started) / 1000), peakRssMiB: peak };
    },
  };
}
