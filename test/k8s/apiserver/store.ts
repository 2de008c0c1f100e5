/**
 * Object storage with Kubernetes semantics: one global resourceVersion counter, optimistic
 * concurrency (409 on a stale resourceVersion), generateName, uids, a bounded event history
 * for watches (older versions answer 410 Gone), and ownerReference garbage collection.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { StatusError, typeKey, type KubeObject, type ResourceType } from "./types.js";

export type EventType = "ADDED" | "MODIFIED" | "DELETED";
export interface WatchEvent {
  rv: number;
  key: string; // type key
  type: EventType;
  object: KubeObject;
}

const HISTORY_LIMIT = 2000;

export class Store {
  #rv = 1;
  #compactedBefore = 0;
  readonly #objects = new Map<string, Map<string, KubeObject>>();
  readonly #history: WatchEvent[] = [];
  readonly #listeners = new Set<(e: WatchEvent) => void>();

  get resourceVersion(): number {
    return this.#rv;
  }

  #bucket(key: string): Map<string, KubeObject> {
    let b = this.#objects.get(key);
    if (!b) this.#objects.set(key, (b = new Map()));
    return b;
  }

  #emit(key: string, type: EventType, object: KubeObject): void {
    const event = { rv: Number(object.metadata.resourceVersion), key, type, object: structuredClone(object) };
    this.#history.push(event);
    if (this.#history.length > HISTORY_LIMIT) this.#compactedBefore = this.#history.shift()!.rv;
    for (const l of this.#listeners) l(event);
  }

  /** Forget all history: every watch from an older resourceVersion now gets 410 Gone. */
  compact(): void {
    this.#compactedBefore = this.#rv;
    this.#history.length = 0;
  }

  subscribe(listener: (e: WatchEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Events after `rv` for a type, or 410 when `rv` is older than what history holds. */
  since(key: string, rv: number): WatchEvent[] {
    if (rv < this.#compactedBefore)
      throw new StatusError(410, "Expired", `too old resource version: ${rv} (${this.#compactedBefore})`);
    return this.#history.filter((e) => e.key === key && e.rv > rv);
  }

  list(t: ResourceType, namespace?: string): KubeObject[] {
    return [...this.#bucket(typeKey(t)).values()]
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .map((o) => structuredClone(o));
  }

  get(t: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const obj = this.#bucket(typeKey(t)).get(`${namespace ?? ""}/${name}`);
    if (!obj) throw new StatusError(404, "NotFound", `${t.plural}${t.group ? `.${t.group}` : ""} "${name}" not found`);
    return structuredClone(obj);
  }

  create(t: ResourceType, namespace: string | undefined, obj: KubeObject): KubeObject {
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) meta.name = meta.generateName + randomBytes(3).toString("hex").slice(0, 5);
    if (!meta.name)
      throw new StatusError(
        422,
        "Invalid",
        `${t.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
      );
    const id = `${namespace ?? ""}/${meta.name}`;
    const bucket = this.#bucket(typeKey(t));
    if (bucket.has(id))
      throw new StatusError(
        409,
        "AlreadyExists",
        `${t.plural}${t.group ? `.${t.group}` : ""} "${meta.name}" already exists`,
      );
    if (namespace !== undefined) meta.namespace = namespace;
    meta.uid = randomUUID();
    meta.creationTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    meta.generation = 1;
    meta.resourceVersion = String(++this.#rv);
    bucket.set(id, structuredClone(obj));
    this.#emit(typeKey(t), "ADDED", obj);
    return obj;
  }

  /** Replace an object; a given resourceVersion must be current (409 Conflict otherwise). */
  update(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    obj: KubeObject,
    opts: { keepStatus: boolean; keepSpec: boolean },
  ): KubeObject {
    const current = this.get(t, namespace, name);
    const given = obj.metadata.resourceVersion;
    if (given && given !== current.metadata.resourceVersion) {
      throw new StatusError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${t.plural}${t.group ? `.${t.group}` : ""} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    const next = structuredClone(obj);
    if (opts.keepStatus) next.status = current.status;
    if (opts.keepSpec) {
      for (const k of Object.keys(next)) if (!["apiVersion", "kind", "metadata", "status"].includes(k)) delete next[k];
      for (const k of Object.keys(current))
        if (!["apiVersion", "kind", "metadata", "status"].includes(k)) next[k] = current[k];
      next.metadata = { ...current.metadata };
    }
    next.metadata = {
      ...next.metadata,
      name,
      uid: current.metadata.uid,
      creationTimestamp: current.metadata.creationTimestamp,
    };
    if (namespace !== undefined) next.metadata.namespace = namespace;
    const specChanged = JSON.stringify(strip(current)) !== JSON.stringify(strip(next));
    next.metadata.generation = (current.metadata.generation ?? 1) + (specChanged && !opts.keepSpec ? 1 : 0);
    const unchanged = { ...next, metadata: { ...next.metadata, resourceVersion: current.metadata.resourceVersion } };
    if (JSON.stringify(unchanged) === JSON.stringify(current)) {
      return current; // no-op updates do not bump resourceVersion, as in the real server
    }
    next.metadata.resourceVersion = String(++this.#rv);
    this.#bucket(typeKey(t)).set(`${namespace ?? ""}/${name}`, structuredClone(next));
    this.#emit(typeKey(t), "MODIFIED", next);
    return next;
  }

  delete(t: ResourceType, namespace: string | undefined, name: string, types: ResourceType[]): KubeObject {
    const current = this.get(t, namespace, name);
    this.#bucket(typeKey(t)).delete(`${namespace ?? ""}/${name}`);
    current.metadata.resourceVersion = String(++this.#rv);
    this.#emit(typeKey(t), "DELETED", current);
    this.#collectGarbage(current.metadata.uid!, types);
    return current;
  }

  /** Dependents lose the owner reference; those left with no owner are deleted (background GC). */
  #collectGarbage(uid: string, types: ResourceType[]): void {
    for (const t of types) {
      // Find dependents without copying every object (a copy per object made deleting n pods O(n²) clones).
      const dependents = [...this.#bucket(typeKey(t)).values()]
        .filter((o) => o.metadata.ownerReferences?.some((r) => r.uid === uid))
        .map((o) => structuredClone(o));
      for (const obj of dependents) {
        const refs = obj.metadata.ownerReferences!;
        const remaining = refs.filter((r) => r.uid !== uid);
        if (remaining.length === 0) this.delete(t, obj.metadata.namespace, obj.metadata.name!, types);
        else
          this.update(
            t,
            obj.metadata.namespace,
            obj.metadata.name!,
            { ...obj, metadata: { ...obj.metadata, ownerReferences: remaining } },
            { keepStatus: false, keepSpec: false },
          );
      }
    }
  }
}

/** An object without metadata and status: what `generation` tracks. */
function strip(obj: KubeObject): unknown {
  const { metadata: _m, status: _s, ...rest } = obj;
  return rest;
}
