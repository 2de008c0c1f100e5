import { expect } from "chai";
import jsonpatch from "fast-json-patch";
import { startTestServer, type TestServer } from "../support/server.js";
import { httpsRequest, selfSignedCertificate, type TestCertificate } from "../support/tls.js";

/** A pod as a ReplicaSet creates it: no name or uid yet, only generateName. */
function replicaSetPod(annotations: Record<string, string>, extra: Record<string, unknown> = {}): any {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { generateName: "web-5d9c7b8f4-", namespace: "apps", annotations, labels: { app: "web" } },
    spec: {
      serviceAccountName: "web",
      initContainers: [{ name: "migrate", image: "migrate" }],
      containers: [
        { name: "app", image: "app", volumeMounts: [{ name: "data", mountPath: "/data" }] },
        { name: "proxy", image: "envoy" },
      ],
      volumes: [{ name: "data", emptyDir: {} }],
      ...extra,
    },
  };
}

function review(pod: unknown, operation = "CREATE"): string {
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "7f0b2e6a-1",
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      namespace: "apps",
      operation,
      object: pod,
      userInfo: { username: "system:serviceaccount:kube-system:replicaset-controller" },
    },
  });
}

describe("the admission webhook (POST /mutate-pods)", () => {
  let server: TestServer;
  let tls: TestCertificate;
  const admit = async (pod: unknown, operation?: string): Promise<any> => {
    const res = await httpsRequest(`https://127.0.0.1:${server.webhookPort}/mutate-pods`, tls.cert, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: review(pod, operation),
    });
    expect(res.status).to.equal(200);
    const body = JSON.parse(res.text);
    expect(body).to.include({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" });
    expect(body.response.uid).to.equal("7f0b2e6a-1");
    return body.response;
  };
  const patched = (pod: any, response: any): any =>
    response.patch
      ? jsonpatch.applyPatch(structuredClone(pod), JSON.parse(Buffer.from(response.patch, "base64").toString()))
          .newDocument
      : pod;

  before(async () => {
    tls = selfSignedCertificate();
    server = await startTestServer({
      account: "hook",
      flags: { "webhook-port": "0", "tls-cert": tls.certFile, "tls-key": tls.keyFile },
    });
  });
  after(() => server.close());

  it("lets a pod that did not opt in pass untouched", async () => {
    for (const annotations of [{}, { "strongroom.io/inject": "false", "strongroom.io/bogus": "x" }] as Record<
      string,
      string
    >[]) {
      const response = await admit(replicaSetPod(annotations));
      expect(response.allowed).to.equal(true);
      expect(response.patch).to.equal(undefined);
    }
  });

  it("adds a projected volume of the managed Secret, read-only mounts in every container, the label and the Secret name", async () => {
    const pod = replicaSetPod({
      "strongroom.io/inject": "true",
      "strongroom.io/secret.password": "db/password",
      "strongroom.io/secret.config.json": "app/config",
    });
    const response = await admit(pod);
    expect(response).to.include({ allowed: true, patchType: "JSONPatch" });
    const result = patched(pod, response);
    const secretName = result.metadata.annotations["strongroom.io/secret-name"];
    expect(secretName).to.match(/^strongroom-[0-9a-f]{20}$/);
    expect(result.metadata.labels).to.deep.equal({ app: "web", "strongroom.io/managed": "true" });
    expect(result.spec.volumes).to.deep.include({
      name: "strongroom-secrets",
      projected: { sources: [{ secret: { name: secretName, optional: false } }], defaultMode: 0o440 },
    });
    const mount = { name: "strongroom-secrets", mountPath: "/var/run/secrets/strongroom", readOnly: true };
    expect(result.spec.containers[0].volumeMounts).to.deep.equal([{ name: "data", mountPath: "/data" }, mount]);
    expect(result.spec.containers[1].volumeMounts).to.deep.equal([mount]);
    expect(result.spec.initContainers[0].volumeMounts).to.deep.equal([mount]);
  });

  it("names the Secret from namespace, identity and files, so replicas share it and others do not", async () => {
    const annotations = { "strongroom.io/inject": "true", "strongroom.io/secret.password": "db/password" };
    const name = async (pod: any): Promise<string> =>
      patched(pod, await admit(pod)).metadata.annotations["strongroom.io/secret-name"];
    const first = await name(replicaSetPod(annotations));
    expect(await name(replicaSetPod(annotations))).to.equal(first);
    expect(await name(replicaSetPod(annotations, { serviceAccountName: "other" }))).to.not.equal(first);
    expect(await name(replicaSetPod({ ...annotations, "strongroom.io/secret.user": "db/user" }))).to.not.equal(first);
  });

  it("honours mount-path and containers, and adds a SecretBinding's Secret as a second source", async () => {
    const pod = replicaSetPod({
      "strongroom.io/inject": "true",
      "strongroom.io/secret.token": "api/token",
      "strongroom.io/binding": "db-creds",
      "strongroom.io/mount-path": "/etc/app/secrets",
      "strongroom.io/containers": "app",
    });
    const result = patched(pod, await admit(pod));
    expect(result.spec.containers[0].volumeMounts[1]).to.deep.equal({
      name: "strongroom-secrets",
      mountPath: "/etc/app/secrets",
      readOnly: true,
    });
    expect(result.spec.containers[1].volumeMounts).to.equal(undefined);
    expect(result.spec.initContainers[0].volumeMounts).to.equal(undefined);
    expect(result.spec.volumes[1].projected.sources[1]).to.deep.equal({
      secret: { name: "db-creds", optional: false },
    });
  });

  it("is idempotent: a re-invoked webhook adds no second volume or mount", async () => {
    const pod = replicaSetPod({ "strongroom.io/inject": "true", "strongroom.io/secret.password": "db/password" });
    const once = patched(pod, await admit(pod));
    const again = await admit(once);
    expect(again.allowed).to.equal(true);
    expect(patched(once, again)).to.deep.equal(once);
  });

  it("rejects an opted-in pod with invalid annotations, naming the problem", async () => {
    const cases: [Record<string, string>, string][] = [
      [{ "strongroom.io/secret.pw": "x", "strongroom.io/colour": "red" }, "unknown annotation 'strongroom.io/colour'"],
      [{ "strongroom.io/secret.a/b": "x" }, "is not a valid file name"],
      // The kubelet refuses '..'-prefixed projected paths and the agent hidden files: refused here, at admission.
      [{ "strongroom.io/secret...data": "x" }, "'..data' is not a valid file name"],
      [
        { "strongroom.io/secret.hidden": "x", "strongroom.io/secret..hidden": "x" },
        "'.hidden' is not a valid file name",
      ],
      [
        { "strongroom.io/inject-mode": "agent", "strongroom.io/secrets....": "- A: x" },
        "'...' is not a valid file name",
      ],
      [{}, "no secrets requested"],
      [{ "strongroom.io/secret.pw": "x", "strongroom.io/refresh-interval": "soon" }, "refresh-interval"],
      [{ "strongroom.io/secret.pw": "x", "strongroom.io/mount-path": "relative/path" }, "mount-path"],
      [{ "strongroom.io/secret.pw": "x", "strongroom.io/containers": "nope" }, "no such container: nope"],
    ];
    for (const [annotations, message] of cases) {
      const response = await admit(replicaSetPod({ "strongroom.io/inject": "true", ...annotations }));
      expect(response.allowed, message).to.equal(false);
      expect(response.status.code).to.equal(400);
      expect(response.status.message).to.contain(message);
    }
  });

  it("rejects a subPath mount of our volume, which would never update", async () => {
    const pod = replicaSetPod({ "strongroom.io/inject": "true", "strongroom.io/secret.pw": "x" });
    pod.spec.containers[1].volumeMounts = [{ name: "strongroom-secrets", mountPath: "/pw", subPath: "pw" }];
    const response = await admit(pod);
    expect(response.allowed).to.equal(false);
    expect(response.status.message).to.contain("subPath");
  });

  it("passes UPDATE operations and non-pod objects, and answers a malformed review with 400", async () => {
    expect((await admit(replicaSetPod({ "strongroom.io/inject": "true" }), "UPDATE")).allowed).to.equal(true);
    const res = await httpsRequest(`https://127.0.0.1:${server.webhookPort}/mutate-pods`, tls.cert, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{not json",
    });
    expect(res.status).to.equal(400);
  });

  it("counts injections by outcome in metrics", async () => {
    const metrics = await httpsRequest(`${server.url}/metrics`, tls.cert);
    expect(metrics.text).to.match(/strongroom_webhook_injections_total\{outcome="injected"\} \d+/);
    expect(metrics.text).to.match(/strongroom_webhook_injections_total\{outcome="rejected"\} \d+/);
  });
});
