/**
 * One server and one policy for test/api/official-clients*.test.ts: account `myorg`, users,
 * hosts (one with `~` in its id), variables whose ids need escaping, a host factory, and two
 * authn-jwt services for Kubernetes service-account tokens (`k8s`: identity from the `sub`
 * claim; `k8s-url`: identity in the URL), signed by a locally generated RS256 key.
 */
import { expect } from "chai";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { Client } from "./client.js";
import { startTestServer, type TestServer } from "./server.js";

export const A = "myorg";
export const K8S_ISSUER = "https://kubernetes.default.svc.cluster.local";
export const BINARY = Buffer.from([0, 255, 1, 254, 0x80, 10, 13]);
export const FORMISH = "p@ss=w0rd&x=1+2%20 ~";

const POLICY = `
- !user { id: alice, public_keys: [ "ssh-rsa AAAAB3NzaC1yc2E alice@laptop" ] }
- !group developers
- !grant { role: !group developers, member: !user alice }
- !host ci/runner
- !host ap~1
- !host { id: secrets-provider, annotations: { authn-jwt/k8s-url/kubernetes.io/namespace: prod } }
- !host { id: "k8s/system:serviceaccount:prod:provider", annotations: { authn-jwt/k8s/kubernetes.io/namespace: prod } }
- !policy
  id: apps
  body:
  - !variable db/password
  - !variable path with spaces
  - !variable a+b
  - !variable blob
  - !layer enrolled
  - !host-factory { id: enroll, layers: [ !layer enrolled ] }
  - !group readers
  - !permit { role: !group readers, privileges: [ read, execute ], resource: !variable db/password }
  - !permit { role: !group readers, privileges: [ read, execute ], resource: !variable path with spaces }
  - !permit { role: !group readers, privileges: [ read, execute ], resource: !variable a+b }
  - !permit { role: !group readers, privileges: [ read, execute ], resource: !variable blob }
- !grant { role: !group apps/readers, members: [ !group developers, !host ci/runner, !host ap~1, !host secrets-provider, !host "k8s/system:serviceaccount:prod:provider" ] }
- !permit { role: !user alice, privileges: [ read, execute, update ], resource: !host-factory apps/enroll }
- !permit { role: !group developers, privilege: read, resource: !group apps/readers }
- !permit { role: !group developers, privilege: read, resource: !group developers }
- !policy
  id: conjur/authn-jwt/k8s
  body: [ !webservice, !webservice status, !variable public-keys, !variable issuer, !variable audience, !variable token-app-property, !variable identity-path, !group apps,
          !permit { role: !group apps, privilege: [ read, authenticate ], resource: !webservice } ]
- !policy
  id: conjur/authn-jwt/k8s-url
  body: [ !webservice, !variable public-keys, !variable issuer, !variable audience, !group apps,
          !permit { role: !group apps, privilege: [ read, authenticate ], resource: !webservice } ]
- !grant { role: !group conjur/authn-jwt/k8s/apps, member: !host "k8s/system:serviceaccount:prod:provider" }
- !grant { role: !group conjur/authn-jwt/k8s-url/apps, member: !host secrets-provider }
`;

export interface ClientsFixture {
  server: TestServer;
  admin: Client;
  /** Rotates and returns a role's API key (`kind:id`), through the admin's token. */
  apiKeyOf(role: string): Promise<string>;
  /** A projected Kubernetes service-account token for prod/provider, as the kubelet writes it (no trailing newline). */
  serviceAccountToken(): Promise<string>;
}

export const VALUES: Record<string, string | Buffer> = {
  "apps/db/password": "s3cret",
  "apps/path with spaces": "spaced",
  "apps/a+b": "plus",
  "apps/blob": BINARY,
};

export async function startClientsFixture(): Promise<ClientsFixture> {
  const pair = await generateKeyPair("RS256", { extractable: true });
  const privateKey: CryptoKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "cluster-key", alg: "RS256", use: "sig" };
  const server = await startTestServer({
    account: A,
    flags: { authenticators: "authn,authn-jwt/k8s,authn-jwt/k8s-url" },
  });
  const admin = await new Client(server.url, A).login("admin", server.adminKey);
  const loaded = await admin.loadPolicy("POST", "root", POLICY);
  expect(loaded.status, loaded.text).to.equal(201);
  const keys = JSON.stringify({ type: "jwks", value: { keys: [jwk] } });
  const settings = {
    "k8s/public-keys": keys,
    "k8s/issuer": K8S_ISSUER,
    "k8s/audience": "conjur",
    "k8s/token-app-property": "sub",
    "k8s/identity-path": "k8s",
    "k8s-url/public-keys": keys,
    "k8s-url/issuer": K8S_ISSUER,
    "k8s-url/audience": "conjur",
  };
  for (const [id, value] of Object.entries(settings))
    expect((await admin.setSecret(`conjur/authn-jwt/${id}`, value)).status).to.equal(201);
  for (const [id, value] of Object.entries(VALUES)) expect((await admin.setSecret(id, value)).status).to.equal(201);
  return {
    server,
    admin,
    apiKeyOf: async (role) => (await admin.request("PUT", `/authn/${A}/api_key?role=${role}`)).text,
    serviceAccountToken: () =>
      new SignJWT({
        sub: "system:serviceaccount:prod:provider",
        aud: ["conjur"],
        "kubernetes.io": { namespace: "prod", serviceaccount: { name: "provider", uid: "0e3c" } },
      })
        .setProtectedHeader({ alg: "RS256", kid: "cluster-key" })
        .setIssuer(K8S_ISSUER)
        .setIssuedAt()
        .setNotBefore("0s")
        .setExpirationTime("10m")
        .sign(privateKey),
  };
}
