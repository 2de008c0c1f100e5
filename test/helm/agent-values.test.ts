import { expect } from "chai";
import { execFile } from "node:child_process";
import { parseAllDocuments } from "yaml";
import { loadConfig, parseFlags } from "../../src/config.js";
import { helmPath } from "../support/binaries.js";

const CHART = "charts/strongroom";

function helm(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      helmPath(),
      args,
      { encoding: "utf8", timeout: 60_000, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const setArgs = (values: Record<string, string>): string[] =>
  Object.entries(values).flatMap(([k, v]) => ["--set", `${k}=${v}`]);

async function render(values: Record<string, string> = {}): Promise<any[]> {
  const res = await helm("template", "sr", CHART, "--namespace", "strongroom", ...setArgs(values));
  expect(res.code, res.stderr).to.equal(0);
  return parseAllDocuments(res.stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
}

async function validate(obj: any): Promise<void> {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  const module =
    group === "cert-manager.io"
      ? `@kubernetes-models/cert-manager/${group}/${version}/${obj.kind}`
      : `kubernetes-models/${group ? `${group}/` : ""}${version}/${obj.kind}`;
  const Model = ((await import(module)) as Record<string, new (o: unknown) => { validate(): void }>)[obj.kind]!;
  new Model(obj).validate();
}

const serverContainer = (objects: any[]) =>
  objects.find((o) => o.kind === "Deployment").spec.template.spec.containers[0];

/** The server's own config loader applied to the rendered args and literal env: what the pod would start with. */
function serverConfigOf(objects: any[]) {
  const container = serverContainer(objects);
  const env = Object.fromEntries(
    container.env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]),
  );
  const { flags } = parseFlags(container.args.slice(1));
  return loadConfig(flags, { ...env, STRONGROOM_NAMESPACE: "strongroom" });
}

const VARIANTS: Record<string, Record<string, string>> = {
  "agent defaults (authn-kubernetes, in-cluster JWKS)": {},
  "own agent image, resources and audience": {
    "agent.image.repository": "registry.example/strongroom-agent",
    "agent.image.tag": "1.2.3",
    "agent.audience": "vault-like",
    "agent.resources.requests.cpu": "25m",
    "agent.resources.limits.memory": "64Mi",
  },
  "EKS-style issuer with its public JWKS": {
    "authnKubernetes.issuer": "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC",
    "authnKubernetes.jwksUri": "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC/keys",
  },
  "agent on authn-jwt": {
    "agent.authenticator": "authn-jwt/k8s",
    "authenticators[0]": "authn-jwt/k8s",
    "authnKubernetes.enabled": "false",
  },
  "cert-manager (agent trusts its CA file)": { "webhook.certManager.enabled": "true" },
  "agent mode off": { "agent.enabled": "false" },
};

describe("the Helm chart's agent and authn-kubernetes values, with the real helm binary", function () {
  this.timeout(120_000);

  it("passes helm lint --strict for every agent variant", async () => {
    for (const [name, values] of Object.entries(VARIANTS)) {
      const res = await helm("lint", "--strict", CHART, ...setArgs(values));
      expect(res.code, `${name}: ${res.stdout}${res.stderr}`).to.equal(0);
    }
  });

  for (const [name, values] of Object.entries(VARIANTS)) {
    it(`renders valid Kubernetes objects the server accepts: ${name}`, async () => {
      const objects = await render(values);
      for (const obj of objects)
        await validate(obj).catch((err: Error) => expect.fail(`${obj.kind}/${obj.metadata?.name}: ${err.message}`));
      expect(() => serverConfigOf(objects), "the server starts with these flags").to.not.throw();
    });
  }

  it("by default: the webhook injects the chart's own image, over the release's Service, logging in with authn-kubernetes", async () => {
    const config = serverConfigOf(await render());
    expect(config.authenticators).to.deep.equal(["authn", "authn-kubernetes"]);
    expect(config.agent).to.deep.include({
      image: "ghcr.io/strongroom/strongroom:0.1.0",
      serverUrl: "https://sr-strongroom.strongroom.svc:8080",
      audience: "strongroom",
      authenticator: "authn-kubernetes",
      caFile: undefined,
    });
    expect(config.agent.resources).to.deep.equal({
      requests: { cpu: "10m", memory: "64Mi" },
      limits: { memory: "128Mi" },
    });
    expect(config.kubernetesAuthn).to.deep.include({
      issuer: "https://kubernetes.default.svc.cluster.local",
      audience: "strongroom",
      jwksUri: "https://kubernetes.default.svc/openid/v1/jwks",
    });
  });

  it("binds system:service-account-issuer-discovery to the server's service account only for the in-cluster JWKS", async () => {
    const binding = (objects: any[]) =>
      objects.find(
        (o) => o.kind === "ClusterRoleBinding" && o.roleRef.name === "system:service-account-issuer-discovery",
      );
    const found = binding(await render());
    expect(found.subjects).to.deep.equal([{ kind: "ServiceAccount", name: "sr-strongroom", namespace: "strongroom" }]);
    expect(binding(await render(VARIANTS["EKS-style issuer with its public JWKS"]))).to.equal(undefined);
    expect(
      binding(await render({ "authnKubernetes.enabled": "false", "agent.authenticator": "authn-jwt/k8s" })),
    ).to.equal(undefined);
  });

  it("carries the agent values through to the server's settings", async () => {
    const own = serverConfigOf(await render(VARIANTS["own agent image, resources and audience"]));
    expect(own.agent).to.deep.include({ image: "registry.example/strongroom-agent:1.2.3", audience: "vault-like" });
    expect(own.kubernetesAuthn.audience, "the server accepts the audience the agent's token carries").to.equal(
      "vault-like",
    );
    expect(own.agent.resources).to.deep.equal({ requests: { cpu: "25m", memory: "64Mi" }, limits: { memory: "64Mi" } });
    const eks = serverConfigOf(await render(VARIANTS["EKS-style issuer with its public JWKS"]));
    expect(eks.kubernetesAuthn).to.deep.include({
      issuer: "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC",
      jwksTokenFile: undefined,
    });
    const jwt = serverConfigOf(await render(VARIANTS["agent on authn-jwt"]));
    expect(jwt.authenticators).to.deep.equal(["authn", "authn-jwt/k8s"]);
    expect(jwt.agent.authenticator).to.equal("authn-jwt/k8s");
    const certManager = serverConfigOf(await render(VARIANTS["cert-manager (agent trusts its CA file)"]));
    expect(certManager.agent.caFile).to.equal("/etc/strongroom/tls/ca.crt");
    const off = serverConfigOf(await render({ "agent.enabled": "false" }));
    expect(off.agent.image).to.equal(undefined);
  });

  it("refuses values that cannot work, with a message", async () => {
    const noAuthenticator = await helm("template", "sr", CHART, ...setArgs({ "authnKubernetes.enabled": "false" }));
    expect(noAuthenticator.code).to.not.equal(0);
    expect(noAuthenticator.stderr).to.include(
      "agent.authenticator=authn-kubernetes needs authnKubernetes.enabled=true",
    );
    const badAuthenticator = await helm("template", "sr", CHART, ...setArgs({ "agent.authenticator": "authn-k8s" }));
    expect(badAuthenticator.code).to.not.equal(0);
    expect(badAuthenticator.stderr).to.match(/authenticator/);
    const plainJwks = await helm(
      "template",
      "sr",
      CHART,
      ...setArgs({ "authnKubernetes.jwksUri": "http://insecure/keys" }),
    );
    expect(plainJwks.code).to.not.equal(0);
  });

  it("renders byte-identical output on every render (GitOps-safe)", async () => {
    for (const [name, values] of Object.entries(VARIANTS)) {
      const args = ["template", "sr", CHART, "--namespace", "strongroom", ...setArgs(values)];
      const [a, b] = [await helm(...args), await helm(...args)];
      expect(a.code, a.stderr).to.equal(0);
      expect(a.stdout, name).to.equal(b.stdout);
    }
  });
});
