/**
 * An informer (list + watch, re-list on 410 Gone — handled by @kubernetes/client-node) that
 * restarts itself with backoff after any other error, and remembers when it last heard
 * from the API server: a silent informer is a health problem, not a quiet cluster.
 */
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";

export interface WatchedCache<T extends k8s.KubernetesObject> {
  list(): readonly T[];
  get(name: string, namespace?: string): T | undefined;
  lastEventAt(): number;
  started(): Promise<void>;
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
  const informer = k8s.makeInformer(opts.config, opts.path, opts.list, opts.labelSelector);
  let lastEventAt = Date.now();
  let stopped = false;
  let delayMs = 1000;
  let timer: NodeJS.Timeout | undefined;
  const heard = (): void => {
    lastEventAt = Date.now();
    delayMs = 1000;
  };
  informer.on("add", (obj) => (heard(), opts.onAdd(obj)));
  informer.on("update", (obj) => (heard(), opts.onUpdate(obj)));
  informer.on("delete", (obj) => (heard(), opts.onDelete(obj)));
  informer.on("connect", heard);
  informer.on("error", (err: unknown) => {
    if (stopped) return;
    opts.log.warn({ path: opts.path, err: (err as Error)?.message ?? String(err), retryMs: delayMs }, "watch failed; restarting");
    timer = setTimeout(() => void informer.start().catch(() => undefined), delayMs);
    delayMs = Math.min(delayMs * 2, 30_000);
  });
  const first = informer.start();
  return {
    list: () => informer.list(),
    get: (name, namespace) => informer.get(name, namespace),
    lastEventAt: () => lastEventAt,
    started: () => first,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await informer.stop();
    },
  };
}
