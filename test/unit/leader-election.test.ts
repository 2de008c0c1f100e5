import { expect } from "chai";
import { pino } from "pino";
import {
  LeaderElector,
  type Clock,
  type LeaseApi,
  type LeaseRecord,
} from "../../src/kubernetes/runtime/leader-election.js";

/** A clock whose time moves only when the test says so; timers fire as it passes them. */
class FakeClock implements Clock {
  t = 1_000_000;
  #timers: { at: number; fn: () => void; id: number }[] = [];
  #next = 0;
  now = (): number => this.t;
  /** The worst case: every retry waits its full jitter, so bounds hold for any real jitter. */
  random = (): number => 0.999;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.#next;
    this.#timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (id: unknown): void => {
    this.#timers = this.#timers.filter((x) => x.id !== id);
  };
  /** Advance in small steps, letting the elector's promises settle between timers. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const due = this.#timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((x) => x !== due);
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = end;
    await settle();
  }
}
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

/** One Lease in memory, with resourceVersions, and a switch that makes the API unreachable. */
class FakeLease {
  record: LeaseRecord | undefined;
  rv = 0;
  down = false;
  api(): LeaseApi {
    const check = () => {
      if (this.down) throw new Error("connection refused");
    };
    return {
      get: async () => (
        check(),
        this.record ? { record: { ...this.record }, resourceVersion: String(this.rv) } : undefined
      ),
      create: async (r) => {
        check();
        if (this.record) return false;
        this.record = { ...r };
        this.rv++;
        return true;
      },
      update: async (r, rv) => {
        check();
        if (rv !== String(this.rv)) return false;
        this.record = { ...r };
        this.rv++;
        return true;
      },
    };
  }
}

const log = pino({ level: "silent" });
const timings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

function elector(lease: FakeLease, clock: FakeClock, identity: string, events: string[]): LeaderElector {
  return new LeaderElector(
    lease.api(),
    {
      identity,
      timings,
      clock,
      onStartedLeading: () => void events.push(`${identity} started`),
      onStoppedLeading: () => void events.push(`${identity} stopped`),
    },
    log,
  );
}

describe("unit: LeaderElector (fake clock, client-go semantics)", () => {
  let clock: FakeClock;
  let lease: FakeLease;
  let events: string[];
  beforeEach(() => {
    clock = new FakeClock();
    lease = new FakeLease();
    events = [];
  });

  it("acquires a free Lease at once and renews it every retry period", async () => {
    const a = elector(lease, clock, "a", events);
    a.start();
    await clock.advance(0);
    expect(a.leading).to.equal(true);
    expect(events).to.deep.equal(["a started"]);
    const rv = lease.rv;
    await clock.advance(6_000);
    expect(lease.rv - rv).to.equal(3);
    expect(lease.record!.holderIdentity).to.equal("a");
  });

  it("does not trust the holder's clock: a renewTime far in the past is not expiry until our own clock says so", async () => {
    // The holder's clock runs an hour behind: its renewTime looks ancient to us.
    lease.record = {
      holderIdentity: "other",
      leaseDurationSeconds: 15,
      acquireTime: new Date(0),
      renewTime: new Date(clock.t - 3_600_000),
      leaseTransitions: 4,
    };
    lease.rv = 7;
    const b = elector(lease, clock, "b", events);
    b.start();
    await clock.advance(14_000);
    expect(b.leading).to.equal(false);
    // The holder keeps renewing (the record changes): still not ours, however old its clock.
    lease.record = { ...lease.record, renewTime: new Date(clock.t - 3_600_000 + 14_000) };
    lease.rv++;
    await clock.advance(14_000);
    expect(b.leading).to.equal(false);
    // It stops renewing: after a lease duration by our clock since the last change, we take over.
    await clock.advance(4_000);
    expect(b.leading).to.equal(true);
    expect(lease.record.holderIdentity).to.equal("b");
    expect(lease.record.leaseTransitions).to.equal(5);
  });

  it("keeps leading through failed renewals shorter than the renew deadline", async () => {
    const a = elector(lease, clock, "a", events);
    a.start();
    await clock.advance(0);
    lease.down = true;
    await clock.advance(8_000);
    expect(a.leading).to.equal(true);
    lease.down = false;
    await clock.advance(2_000);
    expect(a.leading).to.equal(true);
    expect(events).to.deep.equal(["a started"]);
  });

  it("stops all work once the renew deadline passes, before another replica may take over", async () => {
    const a = elector(lease, clock, "a", events);
    const b = elector(lease, clock, "b", events);
    a.start();
    await clock.advance(0);
    b.start();
    const apiA = lease.api();
    // Only a loses its connection.
    (a as unknown as { api: LeaseApi }).api = { ...apiA, get: async () => Promise.reject(new Error("partitioned")) };
    let stoppedAt = 0;
    let bStartedAt = 0;
    for (let t = 0; t < 20_000; t += 500) {
      await clock.advance(500);
      if (!stoppedAt && events.includes("a stopped")) stoppedAt = clock.t;
      if (!bStartedAt && events.includes("b started")) bStartedAt = clock.t;
    }
    expect(stoppedAt, "a stopped").to.be.greaterThan(0);
    expect(bStartedAt, "b started").to.be.greaterThan(0);
    expect(stoppedAt).to.be.lessThan(bStartedAt);
    expect(events.indexOf("a stopped")).to.be.lessThan(events.indexOf("b started"));
  });

  it("loses a race for the Lease on a stale resourceVersion (409), never two leaders", async () => {
    const a = elector(lease, clock, "a", events);
    const b = elector(lease, clock, "b", events);
    a.start();
    b.start();
    await clock.advance(0);
    await clock.advance(30_000);
    expect([a.leading, b.leading].filter(Boolean)).to.have.length(1);
  });

  it("releases the Lease on stop so a successor takes over without waiting for expiry", async () => {
    const a = elector(lease, clock, "a", events);
    const b = elector(lease, clock, "b", events);
    a.start();
    await clock.advance(0);
    b.start();
    await clock.advance(100);
    await a.stop();
    expect(events).to.deep.equal(["a started", "a stopped"]);
    await clock.advance(2_500);
    expect(b.leading).to.equal(true);
  });

  it("refuses timings where the renew deadline is not below the lease duration", () => {
    expect(
      () =>
        new LeaderElector(
          lease.api(),
          {
            identity: "x",
            timings: { leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
            onStartedLeading: () => undefined,
            onStoppedLeading: () => undefined,
          },
          log,
        ),
    ).to.throw(/renew deadline/);
  });
});
