import { expect } from "chai";
import { run as celRun } from "@bufbuild/cel";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { helmPath, kubectlPath } from "../support/binaries.js";
import { TestApiServer } from "../k8s/apiserver/server.js";

const CHART = "charts/strongroom";

function exec(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: "utf8", timeout: 60_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const helm = (...args: string[]) => exec(helmPath(), args);
const setArgs = (values: Record<string, string>): string[] =>
  Object.entries(values).flatMap(([k, v]) => ["--set", `${k}=${v}`]);

async function render(values: Record<string, string> = {}): Promise<any[]> {
  const res = await helm("template", "sr", CHART, "--namespace", "strongroom", ...setArgs(values));
  expect(res.code, res.stderr).to.equal(0);
  return parseAllDocuments(res.stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
}

/** Validates an object against its Kubernetes (or cert-manager / Prometheus Operator) schema. */
async function validate(obj: any): Promise<void> {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  const module =
    group === "cert-manager.io"
      ? `@kubernetes-models/cert-manager/${group}/${version}/${obj.kind}`
      : group === "monitoring.coreos.com"
        ? `@kubernetes-models/prometheus-operator/${group}/${version}/${obj.kind}`
        : `kubernetes-models/${group ? `${group}/` : ""}${version}/${obj.kind}`;
  const Model = ((await import(module)) as Record<string, new (o: unknown) => { validate(): void }>)[obj.kind]!;
  new Model(obj).validate();
}

const VARIANTS: Record<string, Record<string, string>> = {
  "default values (embedded Postgres, one replica)": {},
  "external database URL only, replicas 3": {
    "database.url": "postgres://strongroom@db:5432/strongroom",
    replicaCount: "3",
  },
  "existing database Secret (CloudNativePG) and data key Secret": {
    "database.existingSecret": "pg-app",
    replicaCount: "2",
    "dataKey.existingSecret": "my-key",
  },
  "database.mode=external spelled out": { "database.mode": "external", "database.url": "postgres://db/s" },
  "cert-manager": { "webhook.certManager.enabled": "true" },
  "cert-manager with a ClusterIssuer": {
    "webhook.certManager.enabled": "true",
    "webhook.certManager.issuerRef.name": "ca",
    "webhook.certManager.issuerRef.kind": "ClusterIssuer",
  },
  "ServiceMonitor on": { "metrics.serviceMonitor.enabled": "true" },
  "webhook and controller off (API only)": {
    "webhook.enabled": "false",
    "controller.enabled": "false",
    "networkPolicy.enabled": "false",
  },
};

describe("the Helm chart, with the real helm binary", function () {
  this.timeout(120_000);

  it("passes helm lint --strict for every documented variant", async () => {
    for (const [name, values] of Object.entries(VARIANTS)) {
      const res = await helm("lint", "--strict", CHART, ...setArgs(values));
      expect(res.code, `${name}: ${res.stdout}${res.stderr}`).to.equal(0);
    }
  });

  for (const [name, values] of Object.entries(VARIANTS)) {
    it(`renders valid Kubernetes objects: ${name}`, async () => {
      const objects = await render(values);
      expect(objects.length).to.be.greaterThan(3);
      for (const obj of objects) {
        try {
          await validate(obj);
        } catch (err) {
          throw new Error(`${obj.kind}/${obj.metadata?.name}: ${(err as Error).message}`, { cause: err });
        }
      }
    });
  }

  it("runs a hardened Deployment: non-root, read-only root, no escalation, seccomp, probes, requests", async () => {
    const deployment = (await render()).find((o) => o.kind === "Deployment");
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    expect(pod.securityContext).to.include({ runAsNonRoot: true });
    expect(pod.securityContext.seccompProfile).to.deep.equal({ type: "RuntimeDefault" });
    expect(container.securityContext).to.include({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(container.readinessProbe.httpGet).to.include({ path: "/ready", scheme: "HTTPS" });
    expect(container.livenessProbe.httpGet).to.include({ path: "/health" });
    expect(container.resources.requests).to.have.keys("cpu", "memory");
    expect(container.args).to.include.members(["server", "--controller", "--webhook-port=8443"]);
    // Leaves the Service before its port closes, and has time to drain afterwards.
    expect(container.args).to.include("--shutdown-delay=5");
    expect(pod.terminationGracePeriodSeconds).to.be.greaterThan(5 + 15);
  });

  it("gives the server's own Secrets and webhook configuration least privilege, by name where Kubernetes allows", async () => {
    const objects = await render();
    const role = objects.find((o) => o.kind === "Role" && o.metadata.name === "sr-strongroom-bootstrap");
    expect(role.metadata.namespace).to.equal("strongroom");
    expect(role.rules).to.deep.equal([
      {
        apiGroups: [""],
        resources: ["secrets"],
        verbs: ["get"],
        resourceNames: ["sr-strongroom-initial-admin", "sr-strongroom-data-key", "sr-strongroom-webhook-tls"],
      },
      { apiGroups: [""], resources: ["secrets"], verbs: ["update"], resourceNames: ["sr-strongroom-initial-admin"] },
      { apiGroups: [""], resources: ["secrets"], verbs: ["create"] }, // create cannot be limited by name
    ]);
    const webhookCa = objects.find((o) => o.kind === "ClusterRole" && o.metadata.name === "sr-strongroom-webhook-ca");
    expect(webhookCa.rules).to.deep.equal([
      {
        apiGroups: ["admissionregistration.k8s.io"],
        resources: ["mutatingwebhookconfigurations"],
        verbs: ["get", "patch"],
        resourceNames: ["sr-strongroom"],
      },
    ]);
    const bindings = objects.filter((o) => o.kind.endsWith("Binding")).map((o) => o.roleRef.name);
    expect(bindings).to.include.members(["sr-strongroom-bootstrap", "sr-strongroom-webhook-ca"]);
    const certManager = await render({ "webhook.certManager.enabled": "true", "dataKey.existingSecret": "k" });
    expect(certManager.find((o) => o.metadata.name === "sr-strongroom-webhook-ca")).to.equal(undefined);
    expect(certManager.find((o) => o.metadata.name === "sr-strongroom-bootstrap").rules[0].resourceNames).to.deep.equal(
      ["sr-strongroom-initial-admin"],
    );
  });

  it("lets authn-kubernetes ask the API server about tokens (TokenReview): exactly create on tokenreviews, and off with the value", async () => {
    const objects = await render();
    const role = objects.find((o) => o.kind === "ClusterRole" && o.metadata.name === "sr-strongroom-token-review");
    expect(role.rules).to.deep.equal([
      { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
    ]);
    const binding = objects.find((o) => o.kind === "ClusterRoleBinding" && o.metadata.name === role.metadata.name);
    expect(binding.subjects).to.deep.equal([
      { kind: "ServiceAccount", name: "sr-strongroom", namespace: "strongroom" },
    ]);
    const args = (o: any[]) => o.find((x) => x.kind === "Deployment").spec.template.spec.containers[0].args;
    expect(args(objects)).to.include("--kubernetes-token-review");
    const off = await render({ "authnKubernetes.tokenReview": "false" });
    expect(args(off)).to.not.include("--kubernetes-token-review");
    expect(off.some((o) => o.metadata.name === "sr-strongroom-token-review")).to.equal(false);
  });

  it("asks RBAC for exactly the Secret verbs its informer and writer use (no wildcard, no patch) and leases only in its namespace", async () => {
    const objects = await render();
    const clusterRole = objects.find((o) => o.kind === "ClusterRole" && o.metadata.name === "sr-strongroom");
    const secrets = clusterRole.rules.find((r: any) => r.resources.includes("secrets"));
    // list/watch: the controller's label-selected informer (the cluster tier proves it syncs with these alone).
    expect([...secrets.verbs].sort()).to.deep.equal(["create", "delete", "get", "list", "update", "watch"]);
    expect(clusterRole.rules.flatMap((r: any) => r.resources)).to.not.include("leases");
    const role = objects.find((o) => o.kind === "Role" && o.metadata.name.endsWith("leader-election"));
    expect(role.metadata.namespace).to.equal("strongroom");
    expect(role.rules[0].resources).to.deep.equal(["leases"]);
  });

  it("renders no key material: the server makes the data key and CA, named by environment variables", async () => {
    const objects = await render({ "database.url": "postgres://u:p@db/s" });
    expect(objects.filter((o) => o.kind === "ConfigMap")).to.have.length(0);
    expect(objects.filter((o) => o.kind === "Secret").map((o) => o.metadata.name)).to.deep.equal([
      "sr-strongroom-database",
    ]);
    expect(objects.find((o) => o.kind === "Secret").stringData.url).to.equal("postgres://u:p@db/s");
    const env = Object.fromEntries(
      objects
        .find((o) => o.kind === "Deployment")
        .spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]),
    );
    expect(env).to.include({
      STRONGROOM_DATA_KEY_SECRET: "sr-strongroom-data-key",
      STRONGROOM_WEBHOOK_TLS_SECRET: "sr-strongroom-webhook-tls",
      STRONGROOM_WEBHOOK_CONFIG: "sr-strongroom",
      STRONGROOM_ADMIN_KEY_SECRET: "sr-strongroom-initial-admin",
    });
    expect(env).to.not.have.property("STRONGROOM_DATA_KEY");
    const own = (await render({ "dataKey.existingSecret": "my-key" })).find((o) => o.kind === "Deployment").spec
      .template.spec.containers[0].env;
    expect(own.find((e: any) => e.name === "STRONGROOM_DATA_KEY").valueFrom.secretKeyRef).to.deep.equal({
      name: "my-key",
      key: "data-key",
    });
    expect(own.map((e: any) => e.name)).to.not.include("STRONGROOM_DATA_KEY_SECRET");
  });

  it("renders byte-identical output on every render, for every variant (GitOps-safe)", async () => {
    for (const [name, values] of Object.entries(VARIANTS)) {
      const args = ["template", "sr", CHART, "--namespace", "strongroom", ...setArgs(values)];
      const [a, b] = [await helm(...args), await helm(...args)];
      expect(a.code, a.stderr).to.equal(0);
      expect(a.stdout, name).to.equal(b.stdout);
    }
  });

  it("uses no random or cluster-dependent template functions", () => {
    for (const file of readdirSync(`${CHART}/templates`)) {
      const text = readFileSync(`${CHART}/templates/${file}`, "utf8");
      expect(text, file).to.not.match(
        /\b(randBytes|randAlpha|randAlphaNum|randNumeric|randAscii|uuidv4|genCA|genSelfSignedCert|genSignedCert|genPrivateKey|lookup|now)\b/,
      );
    }
  });

  it("selects external storage from database.url or database.existingSecret alone", async () => {
    const storage = (objects: any[]) => {
      const deployment = objects.find((o) => o.kind === "Deployment");
      const names = deployment.spec.template.spec.containers[0].env.map((e: any) => e.name);
      return {
        url: names.includes("DATABASE_URL"),
        dataDir: names.includes("STRONGROOM_DATA_DIR"),
        pvc: objects.some((o) => o.kind === "PersistentVolumeClaim"),
        recreate: deployment.spec.strategy?.type === "Recreate",
      };
    };
    expect(storage(await render())).to.deep.equal({ url: false, dataDir: true, pvc: true, recreate: true });
    expect(storage(await render({ "database.url": "postgres://db/s" }))).to.deep.equal({
      url: true,
      dataDir: false,
      pvc: false,
      recreate: false,
    });
    const fromSecret = await render({ "database.existingSecret": "pg-app", replicaCount: "3" });
    expect(storage(fromSecret)).to.deep.equal({ url: true, dataDir: false, pvc: false, recreate: false });
    expect(
      fromSecret
        .find((o) => o.kind === "Deployment")
        .spec.template.spec.containers[0].env.find((e: any) => e.name === "DATABASE_URL").valueFrom.secretKeyRef,
    ).to.deep.equal({ name: "pg-app", key: "uri" });
    expect(fromSecret.find((o) => o.kind === "Deployment").spec.replicas).to.equal(3);
  });

  it("registers the webhook safely: Fail only for opted-in pods, sideEffects None, timeout ≤ 5, our pods and kube-system excluded", async () => {
    const hook = (await render()).find((o) => o.kind === "MutatingWebhookConfiguration").webhooks[0];
    expect(hook).to.include({ failurePolicy: "Fail", sideEffects: "None", reinvocationPolicy: "IfNeeded" });
    expect(hook.timeoutSeconds).to.be.at.most(5);
    expect(hook.namespaceSelector.matchExpressions[0].values).to.include.members(["kube-system", "strongroom"]);
    expect(hook.objectSelector.matchExpressions[0]).to.deep.equal({
      key: "app.kubernetes.io/name",
      operator: "NotIn",
      values: ["strongroom"],
    });
    expect(hook.clientConfig.caBundle, "rendered empty: the server patches it").to.equal(undefined);
    expect(hook.clientConfig.service).to.include({ path: "/mutate-pods", port: 443 });
  });

  it("has matchConditions that select exactly the opted-in pods (evaluated as CEL)", async () => {
    const { expression } = (await render()).find((o) => o.kind === "MutatingWebhookConfiguration").webhooks[0]
      .matchConditions[0];
    const toCel = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(toCel)
        : v && typeof v === "object"
          ? new Map(Object.entries(v).map(([k, x]) => [k, toCel(x)]))
          : v;
    const selects = (metadata: object): unknown =>
      celRun(expression, { object: toCel({ metadata, spec: {} }) as never });
    expect(selects({ annotations: { "strongroom.io/inject": "true" } })).to.equal(true);
    expect(selects({ annotations: { "strongroom.io/inject": "false" } })).to.equal(false);
    expect(selects({ annotations: { "strongroom.io/inject": "True" } })).to.equal(false);
    expect(selects({ annotations: { "vault.hashicorp.com/agent-inject": "true" } })).to.equal(false);
    expect(selects({ annotations: {} })).to.equal(false);
    expect(selects({ name: "no-annotations" })).to.equal(false);
  });

  it("uses cert-manager when asked: a Certificate and CA injection instead of a generated CA", async () => {
    const objects = await render({ "webhook.certManager.enabled": "true" });
    expect(objects.find((o) => o.kind === "Certificate").spec.secretName).to.equal("sr-strongroom-tls");
    const hook = objects.find((o) => o.kind === "MutatingWebhookConfiguration");
    expect(hook.metadata.annotations["cert-manager.io/inject-ca-from"]).to.equal("strongroom/sr-strongroom");
    expect(hook.webhooks[0].clientConfig.caBundle).to.equal(undefined);
    expect(objects.find((o) => o.kind === "Secret" && o.type === "kubernetes.io/tls")).to.equal(undefined);
  });

  it("adds a PodDisruptionBudget for several replicas and a ServiceMonitor when asked", async () => {
    const objects = await render({
      "database.url": "postgres://db/s",
      replicaCount: "3",
      "metrics.serviceMonitor.enabled": "true",
    });
    expect(objects.find((o) => o.kind === "PodDisruptionBudget").spec.minAvailable).to.equal(1);
    expect(objects.find((o) => o.kind === "ServiceMonitor").spec.endpoints[0]).to.include({
      port: "api",
      path: "/metrics",
      scheme: "https",
    });
    expect(objects.find((o) => o.kind === "Deployment").spec.replicas).to.equal(3);
  });

  it("rejects bad values with a clear message", async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ replicaCount: "two" }, /replicaCount.*want integer/],
      [{ replicaCount: "3" }, /replicaCount > 1 needs an external database.*database.url or database.existingSecret/],
      [{ "database.mode": "embedded", replicaCount: "2" }, /replicaCount > 1 needs an external database/],
      [{ "database.mode": "embedded", "database.url": "postgres://db/s" }, /database.mode=embedded would ignore it/],
      [{ "database.mode": "external" }, /needs database.url or database.existingSecret/],
      [{ "database.mode": "sqlite" }, /database\/mode/],
      [{ "webhook.timeoutSeconds": "10" }, /timeoutSeconds/],
      [{ "webhook.failurePolicy": "Maybe" }, /failurePolicy/],
      [{ colour: "red" }, /additional properties 'colour' not allowed|colour/],
      [{ "database.url": "mysql://x" }, /database\/url/],
    ];
    for (const [values, message] of cases) {
      const res = await helm("template", "sr", CHART, ...setArgs(values));
      expect(res.code, JSON.stringify(values)).to.not.equal(0);
      expect(res.stderr, JSON.stringify(values)).to.match(message);
    }
  });

  it("ships the CRDs from the top-level crds/ unchanged (one source of truth)", () => {
    expect(readFileSync(`${CHART}/crds/strongroom.io_secretbindings.yaml`, "utf8")).to.equal(
      readFileSync("crds/strongroom.io_secretbindings.yaml", "utf8"),
    );
  });

  it("renders manifests the real kubectl applies to the test API server", async () => {
    const api = await new TestApiServer().start();
    const dir = mkdtempSync(join(tmpdir(), "strongroom-helm-"));
    try {
      writeFileSync(join(dir, "config"), api.kubeconfig());
      const rendered = await helm(
        "template",
        "sr",
        CHART,
        "--namespace",
        "strongroom",
        "--include-crds",
        ...setArgs({ "database.url": "postgres://db/s", replicaCount: "2" }),
      );
      writeFileSync(join(dir, "all.yaml"), rendered.stdout);
      const applied = await exec(kubectlPath(), [
        "--kubeconfig",
        join(dir, "config"),
        "apply",
        "--validate=false",
        "-n",
        "strongroom",
        "-f",
        join(dir, "all.yaml"),
      ]);
      expect(applied.code, applied.stderr).to.equal(0);
      for (const line of [
        "customresourcedefinition.apiextensions.k8s.io/secretbindings.strongroom.io created",
        "deployment.apps/sr-strongroom created",
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/sr-strongroom created",
        "clusterrole.rbac.authorization.k8s.io/sr-strongroom created",
        "poddisruptionbudget.policy/sr-strongroom created",
      ]) {
        expect(applied.stdout).to.contain(line);
      }
      const got = await exec(kubectlPath(), [
        "--kubeconfig",
        join(dir, "config"),
        "get",
        "deployment",
        "sr-strongroom",
        "-n",
        "strongroom",
        "-o",
        "json",
      ]);
      expect(JSON.parse(got.stdout).spec.replicas).to.equal(2);
    } finally {
      await api.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
