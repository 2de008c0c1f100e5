/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder
 * renews every `retryMs`; anyone may take a Lease whose renewTime + duration has passed;
 * writes carry the resourceVersion read, so two candidates cannot both win (409).
 */
import type { CoordinationV1Api, V1Lease } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { statusOf } from "../api/kube-client.js";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseSeconds?: number;
  retryMs?: number;
  onStartedLeading: () => Promise<void> | void;
  onStoppedLeading: () => Promise<void> | void;
}

export class LeaderElector {
  #leading = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    private readonly api: CoordinationV1Api,
    private readonly opts: LeaderElectionOptions,
    private readonly log: Logger,
  ) {}

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    void this.#tick();
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    try {
      const won = await this.#tryAcquireOrRenew();
      if (won && !this.#leading) {
        this.#leading = true;
        this.log.info({ identity: this.opts.identity }, "became leader");
        await this.opts.onStartedLeading();
      } else if (!won && this.#leading) {
        await this.#lose();
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "leader election round failed");
      if (this.#leading) await this.#lose();
    }
    if (!this.#stopped) this.#timer = setTimeout(() => void this.#tick(), this.opts.retryMs ?? 2000);
  }

  async #lose(): Promise<void> {
    this.#leading = false;
    this.log.warn({ identity: this.opts.identity }, "lost leadership");
    await this.opts.onStoppedLeading();
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.opts;
    const leaseSeconds = this.opts.leaseSeconds ?? 15;
    const now = new Date();
    let lease: V1Lease | undefined;
    try {
      lease = await this.api.readNamespacedLease({ namespace, name });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
    const spec = { holderIdentity: identity, leaseDurationSeconds: leaseSeconds, renewTime: now };
    if (!lease) {
      try {
        await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: { ...spec, acquireTime: now, leaseTransitions: 0 } } });
        return true;
      } catch (err) {
        if (statusOf(err) === 409) return false;
        throw err;
      }
    }
    const holder = lease.spec?.holderIdentity;
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
    const expired = renewed + (lease.spec?.leaseDurationSeconds ?? leaseSeconds) * 1000 < now.getTime();
    if (holder && holder !== identity && !expired) return false;
    const takeover = holder !== identity;
    try {
      await this.api.replaceNamespacedLease({
        namespace,
        name,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            ...spec,
            ...(takeover ? { acquireTime: now, leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 } : {}),
          },
        },
      });
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false;
      throw err;
    }
  }

  /** Stop campaigning; release the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!this.#leading) return;
    this.#leading = false;
    await this.opts.onStoppedLeading();
    try {
      const lease = await this.api.readNamespacedLease({ namespace: this.opts.namespace, name: this.opts.name });
      if (lease.spec?.holderIdentity === this.opts.identity) {
        await this.api.replaceNamespacedLease({ namespace: this.opts.namespace, name: this.opts.name, body: { ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1 } } });
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "could not release the lease");
    }
  }
}
