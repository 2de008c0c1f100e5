import { expect } from "chai";
import { WorkQueue, type ReconcileOutcome } from "../../src/kubernetes/runtime/work-queue.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("unit: WorkQueue (the reconcile contract)", () => {
  it("runs nothing before start(): workers wait for the caches to sync, queued keys are kept once", async () => {
    const seen: string[] = [];
    const q = new WorkQueue(async (k) => void seen.push(k));
    q.add("a");
    q.add("b");
    q.add("a");
    await sleep(20);
    expect(seen).to.deep.equal([]);
    expect(q.readyDepth).to.equal(2);
    q.start();
    await q.idle();
    expect(seen).to.deep.equal(["a", "b"]);
  });

  it("runs a key re-added while it runs exactly once more afterwards, never twice at once", async () => {
    let concurrent = 0;
    let max = 0;
    let runs = 0;
    const q = new WorkQueue(async () => {
      concurrent++;
      max = Math.max(max, concurrent);
      runs++;
      await sleep(20);
      concurrent--;
    });
    q.start();
    q.add("k");
    await sleep(5);
    q.add("k");
    q.add("k");
    await sleep(60);
    await q.idle();
    expect(runs).to.equal(2);
    expect(max).to.equal(1);
  });

  it("forgets a key whose reconcile returns nothing, and schedules one that asks to be requeued", async () => {
    const results: Record<string, ReconcileOutcome | undefined> = {
      done: undefined,
      again: { requeueAfterMs: 60_000 },
    };
    const q = new WorkQueue(async (k) => results[k]);
    q.start();
    q.add("done");
    q.add("again");
    await q.idle();
    expect(q.readyDepth).to.equal(0);
    expect(q.scheduledDepth).to.equal(1);
    q.stop();
  });

  it("retries a failing key with exponential backoff and resets it after a success", async () => {
    const times: number[] = [];
    let fail = 3;
    const errors: number[] = [];
    const q = new WorkQueue(
      async () => {
        times.push(Date.now());
        if (fail-- > 0) throw new Error("boom");
      },
      { baseDelayMs: 20, maxDelayMs: 1000, random: () => 1, onError: (_k, _e, n) => errors.push(n) },
    );
    q.start();
    q.add("k");
    while (times.length < 4) await sleep(10);
    await q.idle();
    expect(errors).to.deep.equal([1, 2, 3]);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // 20, 40, 80 ms nominal; generous bounds (busy machines only make them longer)
    expect(gaps[0]).to.be.at.least(15);
    expect(gaps[1]).to.be.at.least(35);
    expect(gaps[2]).to.be.at.least(70);
    expect(q.failures("k")).to.equal(0);
  });

  it("keeps the earliest of two schedules for a key", async () => {
    const seen: string[] = [];
    const q = new WorkQueue(async (k) => void seen.push(k));
    q.start();
    q.addAfter("k", 60_000);
    q.addAfter("k", 10);
    q.addAfter("k", 30_000);
    await sleep(40);
    await q.idle();
    expect(seen).to.deep.equal(["k"]);
    expect(q.scheduledDepth).to.equal(0);
  });

  it("reports ready and scheduled work separately: 100 idle keys waiting for their refresh are not a backlog", async () => {
    const depths: { ready: number; scheduled: number }[] = [];
    const q = new WorkQueue(async () => ({ requeueAfterMs: 60_000 }), { onDepth: (d) => depths.push(d) });
    q.start();
    for (let i = 0; i < 100; i++) q.add(`k${i}`);
    await q.idle();
    expect(depths.at(-1)).to.deep.equal({ ready: 0, scheduled: 100 });
    q.stop();
  });

  it("bounds concurrency", async () => {
    let concurrent = 0;
    let max = 0;
    const q = new WorkQueue(
      async () => {
        max = Math.max(max, ++concurrent);
        await sleep(5);
        concurrent--;
      },
      { concurrency: 3 },
    );
    q.start();
    for (let i = 0; i < 20; i++) q.add(`k${i}`);
    await q.idle();
    expect(max).to.equal(3);
  });
});
