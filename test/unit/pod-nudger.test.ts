import { expect } from "chai";
import type { CoreV1Api } from "@kubernetes/client-node";
import { pino } from "pino";
import { PodNudger } from "../../src/kubernetes/runtime/pod-nudger.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = pino({ level: "silent" });

/** A fake CoreV1Api that records pod patches and holds each open until released. */
function fakeCore(holdMs = 0) {
  const patched: { name: string; version: string }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const core = {
    patchNamespacedPod: async ({
      name,
      body,
    }: {
      name: string;
      body: { metadata: { annotations: Record<string, string> } };
    }) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(holdMs);
      patched.push({ name, version: Object.values(body.metadata.annotations)[0]! });
      inFlight--;
      return {};
    },
  } as unknown as CoreV1Api;
  return { core, patched, maxInFlight: () => maxInFlight };
}

const pods = (n: number, current?: string) =>
  Array.from({ length: n }, (_, i) => ({ namespace: "apps", name: `p${i}`, current }));

describe("unit: PodNudger (pod nudges after a rotation, off the critical path)", () => {
  it("sends no nudge while reconciles are waiting or running, then sends them all", async () => {
    const { core, patched } = fakeCore();
    let busy = true;
    const nudger = new PodNudger(core, log, { perSecond: 1000, busy: () => busy });
    nudger.nudge(pods(5), "7");
    await sleep(100);
    expect(patched).to.have.length(0);
    busy = false;
    await nudger.idle();
    expect(patched.map((p) => p.name).sort()).to.deep.equal(["p0", "p1", "p2", "p3", "p4"]);
    expect(patched.every((p) => p.version === "7")).to.equal(true);
  });

  it("goes anyway once deferred for maxDeferMs, so a queue that is never idle cannot starve nudges", async () => {
    const { core, patched } = fakeCore();
    const nudger = new PodNudger(core, log, { perSecond: 1000, busy: () => true, maxDeferMs: 50 });
    nudger.nudge(pods(3), "2");
    await nudger.idle();
    expect(patched).to.have.length(3);
  });

  it("keeps at most `concurrency` patches in flight (below the shared connection pool's size)", async () => {
    const { core, patched, maxInFlight } = fakeCore(5);
    const nudger = new PodNudger(core, log, { perSecond: 10_000, concurrency: 2 });
    nudger.nudge(pods(20), "3");
    await nudger.idle();
    expect(patched).to.have.length(20);
    expect(maxInFlight()).to.equal(2);
  });

  it("sends one patch per pod with the latest version, and none to a pod already carrying it", async () => {
    const { core, patched } = fakeCore();
    let busy = true;
    const nudger = new PodNudger(core, log, { perSecond: 1000, busy: () => busy });
    nudger.nudge(pods(2), "4");
    nudger.nudge(pods(2), "5");
    nudger.nudge([{ namespace: "apps", name: "p9", current: "5" }], "5");
    busy = false;
    await nudger.idle();
    expect(patched.sort((a, b) => a.name.localeCompare(b.name))).to.deep.equal([
      { name: "p0", version: "5" },
      { name: "p1", version: "5" },
    ]);
  });

  it("sends nothing after stop()", async () => {
    const { core, patched } = fakeCore();
    let busy = true;
    const nudger = new PodNudger(core, log, { perSecond: 1000, busy: () => busy });
    nudger.nudge(pods(3), "6");
    nudger.stop();
    busy = false;
    await sleep(60);
    expect(patched).to.have.length(0);
  });
});
