import { expect } from "chai";
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SignJWT } from "jose";
import { Agent, request } from "undici";
import { kubectl } from "./chart.js";
import { Api, installation, namespace, type Installation } from "./fixture.js";
import { serviceAccountToken } from "./server-process.js";
import { authnJwtPolicy } from "../support/authn-jwt-policy.js";

const NS = "identity-apps";
const POLICY = `
- !host kubernetes/${NS}/app
- !host kubernetes/${NS}/doomed
- !host { id: "kube/system:serviceaccount:${NS}:app", annotations: { authn-jwt/kube/kubernetes.io/namespace: ${NS} } }
- !variable id/password
- !permit { role: !host kubernetes/${NS}/app, privilege: execute, resource: !variable id/password }
- !permit { role: !host kubernetes/${NS}/doomed, privilege: execute, resource: !variable id/password }
- !permit { role: !host "kube/system:serviceaccount:${NS}:app", privilege: execute, resource: !variable id/password }
${authnJwtPolicy("kube")}
- !grant { role: !group conjur/authn-jwt/kube/apps, member: !host "kube/system:serviceaccount:${NS}:app" }
`;

describe("authn-kubernetes and authn-jwt with tokens from the real TokenRequest API", function () {
  this.timeout(120_000);
  let inst: Installation;
  const token = (sa: string, audience = "strongroom"): string =>
    serviceAccountToken(inst.cp, sa, NS, [`--audience=${audience}`]);
  // No Authorization header: a workload logging in has nothing but its token.
  const login = (path: string, jwt: string) =>
    new Api(inst.admin.url, inst.caPem).call("POST", path, `jwt=${jwt}`, {
      "content-type": "application/x-www-form-urlencoded",
    });
  const k8sLogin = (jwt: string) => login(`/authn-kubernetes/default/authenticate`, jwt);
  const readWith = async (accessToken: string) => {
    const res = await request(`${inst.admin.url}/secrets/default/variable/id%2Fpassword`, {
      dispatcher: inst.admin.dispatcher,
      headers: { authorization: `Token token="${Buffer.from(accessToken).toString("base64")}"` },
    });
    return { status: res.statusCode, text: await res.body.text() };
  };

  before(async () => {
    inst = await installation();
    await namespace(NS);
    kubectl(inst.cp, ["create", "serviceaccount", "app", "-n", NS]);
    kubectl(inst.cp, ["create", "serviceaccount", "doomed", "-n", NS]);
    await inst.admin.loadPolicy(POLICY);
    await inst.admin.setSecret("id/password", "from-the-cluster");
  });

  it("authn-kubernetes: a TokenRequest token for the right audience logs in as its Secret-mode host", async () => {
    const res = await k8sLogin(token("app"));
    expect(res.status, res.text).to.equal(200);
    const read = await readWith(res.text);
    expect(read).to.deep.equal({ status: 200, text: "from-the-cluster" });
  });

  it("authn-kubernetes: refuses a token for another audience, and one for the API server itself", async () => {
    expect((await k8sLogin(token("app", "vault"))).status).to.equal(401);
    const apiserverToken = serviceAccountToken(inst.cp, "app", NS);
    expect((await k8sLogin(apiserverToken)).status).to.equal(401);
  });

  it("authn-kubernetes: refuses an expired token signed with the cluster's own key", async () => {
    // TokenRequest will not mint a token shorter than 10 minutes: sign one as the API server
    // does, with its key (kid = base64url SHA-256 of the public key's DER) and claims.
    const key = createPrivateKey(readFileSync(join(inst.cp.dir, "sa.key")));
    const der = createPublicKey(key).export({ type: "spki", format: "der" });
    const kid = createHash("sha256").update(der).digest("base64url");
    const jwks = await fetchJwks(inst);
    expect(jwks.keys.map((k) => k.kid)).to.include(kid);
    const live = JSON.parse(Buffer.from(token("app").split(".")[1]!, "base64url").toString());
    const sign = (exp: number) =>
      new SignJWT({ ...live, iat: exp - 600, nbf: exp - 600, exp }).setProtectedHeader({ alg: "RS256", kid }).sign(key);
    expect(
      (await k8sLogin(await sign(Math.floor(Date.now() / 1000) + 600))).status,
      "control: same claims, not expired",
    ).to.equal(200);
    expect((await k8sLogin(await sign(Math.floor(Date.now() / 1000) - 120))).status).to.equal(401);
  });

  it("authn-jwt: a TokenRequest token verified with the API server's JWKS (public-keys)", async () => {
    const jwks = await fetchJwks(inst);
    for (const [id, value] of Object.entries({
      "conjur/authn-jwt/kube/public-keys": JSON.stringify({ type: "jwks", value: jwks }),
      "conjur/authn-jwt/kube/issuer": inst.cp.issuer,
      "conjur/authn-jwt/kube/audience": "conjur",
      "conjur/authn-jwt/kube/token-app-property": "sub",
      "conjur/authn-jwt/kube/identity-path": "kube",
    }))
      await inst.admin.setSecret(id, value);
    const ok = await login(`/authn-jwt/kube/default/authenticate`, token("app", "conjur"));
    expect(ok.status, ok.text).to.equal(200);
    expect((await readWith(ok.text)).text).to.equal("from-the-cluster");
    expect((await login(`/authn-jwt/kube/default/authenticate`, token("app", "strongroom"))).status).to.equal(401);
  });

  // Offline verification alone would accept it until it expires: the chart's
  // --kubernetes-token-review asks the API server (TokenReview, with the chart's RBAC). The API
  // server caches a successful token authentication for 10 s, so the refusal can take that long.
  it("authn-kubernetes: refuses the token of a ServiceAccount deleted since it was issued (within the API server's 10 s cache)", async function () {
    this.timeout(60_000);
    const jwt = token("doomed");
    expect((await k8sLogin(jwt)).status, "control: before the deletion").to.equal(200);
    kubectl(inst.cp, ["delete", "serviceaccount", "doomed", "-n", NS]);
    const deleted = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - deleted < 20_000) {
      await new Promise((ok) => setTimeout(ok, 500));
      status = (await k8sLogin(jwt)).status;
    }
    expect(status).to.equal(401);
    expect(Date.now() - deleted).to.be.below(15_000);
  });
});

/** The API server's JWKS, read as the chart lets the server read it (admin here: the content is public keys). */
async function fetchJwks(inst: Installation): Promise<{ keys: { kid: string }[] }> {
  const res = await request(`${inst.cp.server}/openid/v1/jwks`, {
    dispatcher: new Agent({ connect: { ca: inst.cp.caPem } }),
    headers: { authorization: `Bearer ${inst.cp.adminToken}` },
  });
  return (await res.body.json()) as { keys: { kid: string }[] };
}
