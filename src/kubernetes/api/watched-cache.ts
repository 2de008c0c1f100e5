/**
 * An informer (list + watch, re-list on 410 Gone — handled by @kubernetes/client-node) that
 * restarts itself with backoff after any other error, and remembers when it last heard
 * from the API server: a silent informer is a health problem, not a quiet cluster.
 * `synced()` resolves once the first complete list is in the cache (client-go's HasSynced):
 * the controller starts its workers only then, so no reconcile sees a partial view.
 */
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";
import { describeError } from "./kube-client.js";
import { backoffMs } from "../../retry/backoff.js";

export interface WatchedCache<T extends k8s.KubernetesObject> {
  list(): readonly T[];
  get(name: string, namespace?: string): T | undefined;
  lastEventAt(): number;
  hasSynced(): boolean;
  synced(): Promise<void>;
  stop(): Promise<void>;
}

export function watchedCache<T extends k8s.KubernetesObject>(opts: {
  config: k8s.KubeConfig;
  path: string;
  list: k8s.ListPromise<T>;
  labelSelector?: string;
  log: Logger;
  onAdd: (obj: T) => void;
  onUpdate: (obj: T) => void;
  onDelete: (obj: T) => void;
}): WatchedCache<T> {
  let hasSynced = false;
  let markSynced = (): void => undefined;
  const synced = new Promise<void>((ok) => (markSynced = ok));
  // The library adds a list's items to its cache right after the list promise settles, in
  // the same macrotask; setImmediate runs after that, when the whole list is in.
  const list: k8s.ListPromise<T> = () =>
    opts.list().then((result) => {
      setImmediate(() => {
        hasSynced = true;
        markSynced();
      });
      return result;
    });
  const informer = k8s.makeInformer(opts.config, opts.path, list, opts.labelSelector);
  let lastEventAt = Date.now();
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  const heard = (): void => {
    lastEventAt = Date.now();
    failures = 0;
  };
  informer.on("add", (obj) => (heard(), opts.onAdd(obj)));
  informer.on("update", (obj) => (heard(), opts.onUpdate(obj)));
  informer.on("delete", (obj) => (heard(), opts.onDelete(obj)));
  informer.on("connect", heard);
  informer.on("error", (err: unknown) => {
    if (stopped) return;
    const retryMs = backoffMs(++failures, { baseMs: 1000, maxMs: 30_000 });
    opts.log.warn({ path: opts.path, err: describeError(err), retryMs }, "watch failed; restarting");
    timer = setTimeout(() => void informer.start().catch(() => undefined), retryMs);
  });
  void informer.start().catch(() => undefined);
  return {
    list: () => informer.list(),
    get: (name, namespace) => informer.get(name, namespace),
    lastEventAt: () => lastEventAt,
    hasSynced: () => hasSynced,
    synced: () => synced,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await informer.stop();
    },
  };
}
