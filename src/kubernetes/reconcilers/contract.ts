/**
 * The one reconcile contract (controller-runtime's): a reconciler returns a result or
 * throws. The work queue (runtime/work-queue.ts) turns it into forget, requeue-after or a
 * rate-limited retry; the controller indexes `variables` so a rotation finds the key.
 */
export interface ReconcileResult {
  /** Variables the key depends on (for rotation), empty when the key is gone. */
  variables: string[];
  /** Re-resolve after this long (the refresh interval, or a shorter retry for a denial); undefined = forget. */
  requeueAfterMs: number | undefined;
}

export interface Reconciler {
  reconcile(key: string): Promise<ReconcileResult>;
}

export const DONE: ReconcileResult = Object.freeze({ variables: [], requeueAfterMs: undefined });
