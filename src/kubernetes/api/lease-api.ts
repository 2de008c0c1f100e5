/** The leader elector's view of one coordination.k8s.io/v1 Lease, over @kubernetes/client-node. */
import type { CoordinationV1Api, V1Lease } from "@kubernetes/client-node";
import type { LeaseApi, LeaseRecord } from "../runtime/leader-election.js";
import { statusOf } from "./kube-client.js";

const toDate = (v: unknown): Date | undefined => (v ? new Date(v as string | Date) : undefined);
/**
 * metav1.MicroTime: RFC 3339 with exactly six fractional digits. The client would send a Date
 * as toISOString() (three), which kube-apiserver refuses with 400 "cannot parse .025Z as
 * .000000" (found by the cluster tier, test/cluster): send the string ourselves.
 */
export const microTime = (d: Date | undefined): string | undefined =>
  d && d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

export function leaseApi(api: CoordinationV1Api, namespace: string, name: string): LeaseApi {
  const body = (record: LeaseRecord, resourceVersion?: string): V1Lease => ({
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name, namespace, ...(resourceVersion ? { resourceVersion } : {}) },
    // MicroTime on the wire; a string passes the client's serializer unchanged.
    spec: {
      ...record,
      acquireTime: microTime(record.acquireTime) as never,
      renewTime: microTime(record.renewTime) as never,
    },
  });
  const conflictIsFalse = async (write: () => Promise<unknown>): Promise<boolean> => {
    try {
      await write();
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false;
      throw err;
    }
  };
  return {
    async get() {
      try {
        const lease = await api.readNamespacedLease({ namespace, name });
        const s = lease.spec ?? {};
        return {
          resourceVersion: lease.metadata?.resourceVersion ?? "",
          record: {
            holderIdentity: s.holderIdentity ?? "",
            leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
            acquireTime: toDate(s.acquireTime),
            renewTime: toDate(s.renewTime),
            leaseTransitions: s.leaseTransitions ?? 0,
          },
        };
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    },
    create: (record) => conflictIsFalse(() => api.createNamespacedLease({ namespace, body: body(record) })),
    update: (record, resourceVersion) =>
      conflictIsFalse(() => api.replaceNamespacedLease({ namespace, name, body: body(record, resourceVersion) })),
  };
}
