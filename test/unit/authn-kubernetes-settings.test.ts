import { expect } from "chai";
import { agentResources, ConfigError, IN_CLUSTER_JWKS_URI, loadConfig, parseAuthenticators } from "../../src/config.js";
import { loadAgentConfig } from "../../src/agent/agent-config.js";

const base = { "database-url": "postgres://x/y" };
const env = { STRONGROOM_DATA_KEY: Buffer.alloc(32, 1).toString("base64") };

describe("authn-kubernetes and agent settings", () => {
  it("defaults to the in-cluster JWKS, read with the pod's own CA and token", () => {
    const k = loadConfig(base, env).kubernetesAuthn;
    expect(k).to.deep.equal({
      issuer: "https://kubernetes.default.svc.cluster.local",
      audience: "strongroom",
      jwksUri: IN_CLUSTER_JWKS_URI,
      jwksCaFile: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
      jwksTokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
      tokenReview: false,
    });
    expect(loadConfig({ ...base, "kubernetes-token-review": true }, env).kubernetesAuthn.tokenReview).to.equal(true);
    expect(
      loadConfig(base, { ...env, STRONGROOM_KUBERNETES_TOKEN_REVIEW: "true" }).kubernetesAuthn.tokenReview,
    ).to.equal(true);
  });

  it("never sends the pod's token to a JWKS URI other than the in-cluster one unless told to", () => {
    const k = loadConfig({ ...base, "kubernetes-jwks-uri": "https://oidc.example/keys" }, env).kubernetesAuthn;
    expect(k.jwksTokenFile).to.equal(undefined);
    expect(k.jwksCaFile).to.equal(undefined);
    expect(() => loadConfig({ ...base, "kubernetes-jwks-uri": "http://plain.example/keys" }, env)).to.throw(
      ConfigError,
      /https/,
    );
  });

  it("accepts authn-kubernetes in --authenticators, without a service id", () => {
    expect(parseAuthenticators("authn,authn-kubernetes")).to.deep.equal(["authn", "authn-kubernetes"]);
    expect(() => parseAuthenticators("authn-kubernetes/prod")).to.throw(ConfigError, /no service id/);
  });

  it("--agent-authenticator: authn-kubernetes by default, or an authn-jwt service", () => {
    expect(loadConfig(base, env).agent.authenticator).to.equal("authn-kubernetes");
    expect(loadConfig({ ...base, "agent-authenticator": "authn-jwt/k8s" }, env).agent.authenticator).to.equal(
      "authn-jwt/k8s",
    );
    expect(() => loadConfig({ ...base, "agent-authenticator": "authn" }, env)).to.throw(
      ConfigError,
      /authn-kubernetes or authn-jwt/,
    );
  });

  it("--agent-resources: requests/limits of quantities, anything else refused", () => {
    expect(agentResources('{"requests":{"cpu":"10m","memory":"48Mi"},"limits":{"memory":"1.5Gi"}}')).to.deep.equal({
      requests: { cpu: "10m", memory: "48Mi" },
      limits: { memory: "1.5Gi" },
    });
    for (const bad of [
      "[]",
      "{",
      '{"requests":{"cpu":10}}',
      '{"command":["sh"]}',
      '{"limits":{"memory":"1; rm"}}',
      `{"requests":{"cpu":"${"1".repeat(5000)}"}}`,
    ]) {
      expect(() => agentResources(bad), bad.slice(0, 40)).to.throw(ConfigError);
    }
  });

  it("the agent's --authenticator is authn-kubernetes by default; other values are refused", () => {
    const common = { STRONGROOM_URL: "https://s.svc:8080", STRONGROOM_AGENT_FILES: '{"a":{"secret":"x"}}' };
    const config = loadAgentConfig([], common);
    expect(config !== "help" && config.authenticator).to.equal("authn-kubernetes");
    expect(() => loadAgentConfig(["--authenticator", "authn-k8s/x"], common)).to.throw(
      ConfigError,
      /authn-kubernetes or authn-jwt/,
    );
  });
});
