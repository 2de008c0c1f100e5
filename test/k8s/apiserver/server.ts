/**
 * A test Kubernetes API server: JSON over HTTP, the real paths, verbs, list/watch and error
 * shapes for the resources Strongroom uses. Test-only; it never goes into src/.
 * Details the real server has and we mirror: protobuf bodies get 415 (kubectl retries in
 * JSON); a Secret's stringData becomes data; CRDs register new resource types; a watch
 * ends when the response closes; 410 Gone for watches older than the kept history.
 */
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { apiGroup, apiGroupList, apiResourceList, apiVersions, version } from "./discovery.js";
import { applyPatch } from "./patch.js";
import { fieldMatcher, labelMatcher } from "./selectors.js";
import { Store, type WatchEvent } from "./store.js";
import { apiVersionOf, BUILTIN_TYPES, StatusError, typeKey, type KubeObject, type ResourceType } from "./types.js";

interface Target {
  type: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

export interface RequestLog {
  method: string;
  path: string;
  contentType: string | undefined;
}

export class TestApiServer {
  readonly store = new Store();
  readonly types: ResourceType[] = [...BUILTIN_TYPES];
  readonly requests: RequestLog[] = [];
  readonly #watches = new Set<http.ServerResponse>();
  readonly #server: http.Server;
  url = "";
  /** Connections accepted (TLS handshakes when serving HTTPS): what a client's connection reuse saves. */
  connections = 0;

  /** With `tls`, serve HTTPS as a real API server does (benchmarks count TLS connections). */
  constructor(opts: { tls?: { cert: Buffer; key: Buffer } } = {}) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => void this.#handle(req, res);
    this.#server = opts.tls ? https.createServer(opts.tls, handler) : http.createServer(handler);
    this.#server.on(opts.tls ? "secureConnection" : "connection", () => this.connections++);
    // kube-apiserver closes idle connections after 90 s (its http.Server IdleTimeout); Node's default is 5 s.
    this.#server.keepAliveTimeout = 90_000;
  }

  async start(): Promise<this> {
    await new Promise<void>((ok) => this.#server.listen(0, "127.0.0.1", ok));
    this.url = `${this.#server instanceof https.Server ? "https" : "http"}://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((ok) => this.#server.close(() => ok()));
  }

  /** A kubeconfig for kubectl and @kubernetes/client-node. */
  kubeconfig(): string {
    return JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "test", cluster: { server: this.url, "insecure-skip-tls-verify": true } }],
      users: [{ name: "test", user: { token: "test-token" } }],
      contexts: [{ name: "test", context: { cluster: "test", user: "test", namespace: "default" } }],
      "current-context": "test",
    });
  }

  /** End every open watch, as an API server restart or a load balancer timeout would. */
  dropWatches(): void {
    for (const res of this.#watches) res.end();
  }

  typeFor(group: string, plural: string): ResourceType | undefined {
    return this.types.find((t) => t.group === group && t.plural === plural);
  }

  #send(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
    res.end(text);
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    this.requests.push({
      method: req.method ?? "",
      path: url.pathname + url.search,
      contentType: req.headers["content-type"],
    });
    try {
      const body = await readBody(req);
      const discovery = this.#discovery(url.pathname);
      if (discovery) return this.#send(res, 200, discovery);
      const target = this.#parse(url.pathname);
      if (!target) throw new StatusError(404, "NotFound", "the server could not find the requested resource");
      const contentType = req.headers["content-type"] ?? "application/json";
      if (body.length && contentType.includes("protobuf"))
        throw new StatusError(
          415,
          "UnsupportedMediaType",
          `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`,
        );
      const parsed = body.length ? parseJson(body) : undefined;
      this.#dispatch(req.method ?? "GET", target, url.searchParams, parsed, contentType, res);
    } catch (err) {
      const status = err instanceof StatusError ? err : new StatusError(500, "InternalError", (err as Error).message);
      if (!res.headersSent) this.#send(res, status.code, status.body());
    }
  }

  #discovery(path: string): object | undefined {
    const p = path.replace(/\/$/, "");
    if (p === "/version") return version();
    if (p === "/api") return apiVersions();
    if (p === "/apis") return apiGroupList(this.types);
    if (p === "/api/v1") return apiResourceList(this.types, "", "v1");
    let m = /^\/apis\/([^/]+)$/.exec(p);
    if (m) return apiGroup(this.types, m[1]!);
    m = /^\/apis\/([^/]+)\/([^/]+)$/.exec(p);
    if (m) return apiResourceList(this.types, m[1]!, m[2]!);
    return undefined;
  }

  #parse(path: string): Target | undefined {
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(.*)$/.exec(path);
    if (!m) return undefined;
    const group = m[2] ?? "";
    const parts = m[4]!.split("/").filter(Boolean).map(decodeURIComponent);
    let namespace: string | undefined;
    if (parts[0] === "namespaces" && parts.length >= 3) {
      namespace = parts[1];
      parts.splice(0, 2);
    }
    const type = this.typeFor(group, parts[0] ?? "");
    const version = m[1] ?? m[3]!;
    if (!type || type.version !== version) return undefined;
    if (!type.namespaced && namespace !== undefined) return undefined;
    return { type, namespace, name: parts[1], subresource: parts[2] };
  }

  #dispatch(
    method: string,
    t: Target,
    query: URLSearchParams,
    body: unknown,
    contentType: string,
    res: http.ServerResponse,
  ): void {
    const { type } = t;
    if (!t.name) {
      if (method === "GET" && (query.get("watch") === "true" || query.get("watch") === "1"))
        return this.#watch(t, query, res);
      if (method === "GET") return this.#send(res, 200, this.#list(t, query));
      if (method === "POST") {
        if (type.namespaced && !t.namespace)
          throw new StatusError(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
          );
        return this.#send(res, 201, this.#create(t, body as KubeObject));
      }
      throw new StatusError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    }
    if (t.subresource && !(t.subresource === "status" && type.statusSubresource))
      throw new StatusError(404, "NotFound", "the server could not find the requested resource");
    const status = t.subresource === "status";
    const withStatusRules = (obj: KubeObject): KubeObject =>
      this.store.update(type, t.namespace, t.name!, this.#normalise(type, obj), {
        keepStatus: type.statusSubresource && !status,
        keepSpec: status,
      });
    switch (method) {
      case "GET":
        return this.#send(res, 200, this.store.get(type, t.namespace, t.name));
      case "PUT":
        return this.#send(res, 200, withStatusRules(body as KubeObject));
      case "PATCH": {
        const current = this.store.get(type, t.namespace, t.name);
        const patched = applyPatch(contentType, current, body) as KubeObject;
        // A patch applies to the version it read, unless it names one itself.
        if ((body as KubeObject | undefined)?.metadata?.resourceVersion === undefined)
          patched.metadata.resourceVersion = current.metadata.resourceVersion;
        return this.#send(res, 200, withStatusRules(patched));
      }
      case "DELETE": {
        // DeleteOptions.preconditions, as the real apiserver checks them: a mismatch is 409 Conflict.
        const preconditions = (body as { preconditions?: { uid?: string; resourceVersion?: string } } | undefined)
          ?.preconditions;
        if (preconditions) {
          const current = this.store.get(type, t.namespace, t.name);
          if (
            (preconditions.uid && preconditions.uid !== current.metadata.uid) ||
            (preconditions.resourceVersion && preconditions.resourceVersion !== current.metadata.resourceVersion)
          )
            throw new StatusError(409, "Conflict", `Precondition failed: the object has been modified`);
        }
        const deleted = this.store.delete(type, t.namespace, t.name, this.types);
        if (type.plural === "customresourcedefinitions") this.#unregister(deleted);
        return this.#send(
          res,
          200,
          type.plural === "pods" || type.group !== ""
            ? deleted
            : {
                kind: "Status",
                apiVersion: "v1",
                metadata: {},
                status: "Success",
                details: { name: t.name, kind: type.plural, uid: deleted.metadata.uid },
              },
        );
      }
      default:
        throw new StatusError(
          405,
          "MethodNotAllowed",
          "the server does not allow this method on the requested resource",
        );
    }
  }

  #normalise(type: ResourceType, obj: KubeObject): KubeObject {
    if (!obj || typeof obj !== "object" || !obj.metadata)
      throw new StatusError(400, "BadRequest", "the request body must be an object with metadata");
    obj.apiVersion = apiVersionOf(type);
    obj.kind = type.kind;
    if (type.kind === "Secret" && obj.stringData) {
      const data = { ...(obj.data as Record<string, string> | undefined) };
      for (const [k, v] of Object.entries(obj.stringData as Record<string, string>))
        data[k] = Buffer.from(v).toString("base64");
      obj.data = data;
      delete obj.stringData;
    }
    if (type.kind === "Secret" && !obj.type) obj.type = "Opaque";
    // metav1.MicroTime: kube-apiserver refuses anything but six fractional digits (found by test/cluster).
    if (type.kind === "Lease") {
      for (const field of ["acquireTime", "renewTime"]) {
        const value = (obj.spec as Record<string, unknown> | undefined)?.[field];
        if (value === undefined || value === null) continue;
        const text = typeof value === "string" ? value : JSON.stringify(value);
        if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/.test(text))
          throw new StatusError(
            400,
            "BadRequest",
            `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(text)} as "2006-01-02T15:04:05.000000Z07:00"`,
          );
      }
    }
    if (type.kind === "Pod") {
      const spec = (obj.spec ??= {}) as Record<string, unknown>;
      spec.serviceAccountName ??= "default";
    }
    return obj;
  }

  #create(t: Target, body: KubeObject): KubeObject {
    const obj = this.#normalise(t.type, body);
    if (t.type.kind === "Pod") obj.status = { phase: "Pending" };
    // As kube-apiserver: with a status subresource, a create cannot set status (found by test/cluster/contract.test.ts).
    else if (t.type.statusSubresource) delete obj.status;
    const created = this.store.create(t.type, t.type.namespaced ? t.namespace : undefined, obj);
    if (t.type.plural === "customresourcedefinitions") this.#register(created);
    return created;
  }

  #list(t: Target, query: URLSearchParams): object {
    const labels = labelMatcher(query.get("labelSelector"));
    const fields = fieldMatcher(query.get("fieldSelector"));
    const items = this.store.list(t.type, t.namespace).filter((o) => labels(o) && fields(o));
    return {
      kind: `${t.type.kind}List`,
      apiVersion: apiVersionOf(t.type),
      metadata: { resourceVersion: String(this.store.resourceVersion) },
      items,
    };
  }

  /** A watch stream: JSON lines of {type, object}; it ends on the response's close. */
  #watch(t: Target, query: URLSearchParams, res: http.ServerResponse): void {
    const labels = labelMatcher(query.get("labelSelector"));
    const fields = fieldMatcher(query.get("fieldSelector"));
    const key = typeKey(t.type);
    const matches = (e: WatchEvent): boolean =>
      e.key === key &&
      (t.namespace === undefined || e.object.metadata.namespace === t.namespace) &&
      labels(e.object) &&
      fields(e.object);
    const rvParam = query.get("resourceVersion");
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    res.flushHeaders(); // clients wait for the headers before they read events
    const write = (type: string, object: unknown): boolean => res.write(JSON.stringify({ type, object }) + "\n");
    let backlog: WatchEvent[];
    try {
      backlog =
        rvParam && rvParam !== "0"
          ? this.store.since(key, Number(rvParam))
          : this.store.list(t.type, t.namespace).map((o) => ({ rv: 0, key, type: "ADDED", object: o }));
    } catch (err) {
      // The real server reports an expired version as an ERROR event on a 200 stream.
      write("ERROR", (err as StatusError).body());
      res.end();
      return;
    }
    for (const e of backlog.filter(matches)) write(e.type, e.object);
    const unsubscribe = this.store.subscribe((e) => {
      if (matches(e)) write(e.type, e.object);
    });
    const timeout = Number(query.get("timeoutSeconds") ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    this.#watches.add(res);
    res.on("close", () => {
      this.#watches.delete(res);
      unsubscribe();
      clearTimeout(timer);
    });
  }

  #register(crd: KubeObject): void {
    const spec = crd.spec as {
      group: string;
      scope: string;
      names: { plural: string; singular?: string; kind: string; shortNames?: string[] };
      versions: { name: string; served: boolean; subresources?: { status?: object } }[];
    };
    for (const v of spec.versions.filter((x) => x.served)) {
      if (this.typeFor(spec.group, spec.names.plural)) continue;
      this.types.push({
        group: spec.group,
        version: v.name,
        plural: spec.names.plural,
        singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
        kind: spec.names.kind,
        namespaced: spec.scope === "Namespaced",
        statusSubresource: Boolean(v.subresources?.status),
        ...(spec.names.shortNames ? { shortNames: spec.names.shortNames } : {}),
      });
    }
  }

  #unregister(crd: KubeObject): void {
    const spec = crd.spec as { group: string; names: { plural: string } };
    const i = this.types.findIndex((t) => t.group === spec.group && t.plural === spec.names.plural);
    if (i >= 0) this.types.splice(i, 1);
  }
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => ok(Buffer.concat(chunks)));
    req.on("error", fail);
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new StatusError(400, "BadRequest", "the request body is not valid JSON");
  }
}
