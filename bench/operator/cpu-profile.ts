/**
 * `--profile-rotations`: a CPU profile of this process covering only the rotations' critical
 * path (from the variable write until every Secret holds the new value, not the nudge drains
 * after), written to `<tmpdir>/strongroom-operator-rotations.cpuprofile` and summarised as self time per
 * source area. Bench-only diagnostics.
 */
import { Session } from "node:inspector/promises";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CpuProfile {
  nodes: ProfileNode[];
}

interface ProfileNode {
  id: number;
  callFrame: { url: string; functionName: string };
  hitCount?: number;
}

export class RotationProfiler {
  readonly #session = new Session();
  #ready: Promise<void>;

  constructor() {
    this.#session.connect();
    this.#ready = this.#session
      .post("Profiler.enable")
      .then(() => this.#session.post("Profiler.setSamplingInterval", { interval: 200 }))
      .then(() => undefined);
  }

  async resume(): Promise<void> {
    await this.#ready;
    await this.#session.post("Profiler.start");
  }

  /** Ends this rotation's profile (the summary adds them up; the file keeps the last one). */
  async pause(): Promise<CpuProfile> {
    const { profile } = (await this.#session.post("Profiler.stop")) as { profile: CpuProfile };
    return profile;
  }

  static summarise(profiles: CpuProfile[]): string[] {
    const byArea = new Map<string, number>();
    const byFunction = new Map<string, number>();
    let total = 0;
    for (const p of profiles) {
      for (const n of p.nodes) {
        const hits = n.hitCount ?? 0;
        if (!hits) continue;
        total += hits;
        const url = n.callFrame.url;
        const area = !url
          ? `(${n.callFrame.functionName || "native"})`
          : (/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ??
            /\/work\/main\/(\w+\/(?:\w+\/)?)/.exec(url)?.[1] ??
            url
              .replace(/^node:/, "node:")
              .split("/")
              .slice(0, 2)
              .join("/"));
        byArea.set(area, (byArea.get(area) ?? 0) + hits);
        const fn = `${n.callFrame.functionName || "(anonymous)"} ${url.split("/").slice(-2).join("/")}`;
        byFunction.set(fn, (byFunction.get(fn) ?? 0) + hits);
      }
    }
    const top = (m: Map<string, number>, n: number) =>
      [...m]
        .sort((a, b) => b[1] - a[1])
        .slice(0, n)
        .map(([k, v]) => `   ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
    writeFileSync(join(tmpdir(), "strongroom-operator-rotations.cpuprofile"), JSON.stringify(profiles.at(-1)));
    return ["self time by area:", ...top(byArea, 15), "self time by function:", ...top(byFunction, 25)];
  }
}
