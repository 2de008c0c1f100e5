/**
 * A stand-in for a cluster's service-account issuer: an HTTPS JWKS endpoint (self-signed CA,
 * bearer token required, as the API server's /openid/v1/jwks) and tokens signed the way
 * kube-apiserver signs projected service-account tokens. It also answers TokenReview as the
 * API server does (authenticated unless the token was revoked: its ServiceAccount deleted),
 * for a server started with --kubernetes-token-review and `kubeConfig()`.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";
import { selfSignedCertificate } from "./tls.js";

export const CLUSTER_ISSUER = "https://kubernetes.default.svc.cluster.local";
export const READER_TOKEN = "the-servers-own-service-account-token";

export interface IssuerKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function issuerKey(kid: string, alg = "RS256"): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

const now = (): number => Math.floor(Date.now() / 1000);

/** The claims of a projected token for `namespace/serviceAccount`, bound to a pod. */
export function serviceAccountClaims(namespace: string, serviceAccount: string, extra: JWTPayload = {}): JWTPayload {
  return {
    iss: CLUSTER_ISSUER,
    aud: ["strongroom"],
    sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
    iat: now(),
    nbf: now(),
    exp: now() + 3600,
    "kubernetes.io": {
      namespace,
      serviceaccount: { name: serviceAccount, uid: "4b1a-sa" },
      pod: { name: `${serviceAccount}-7d9f-x2`, uid: "9c2e-pod" },
    },
    ...extra,
  };
}

export function signToken(key: IssuerKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
}

export interface FakeIssuer {
  jwksUri: string;
  caFile: string;
  /** The bearer token file the server sends. */
  tokenFile: string;
  /** Keys currently published; change to rotate. */
  published: JWK[];
  /** Requests seen: the Authorization header of each. */
  fetches: (string | undefined)[];
  /** Server flags for startTestServer that enable authn-kubernetes against this issuer. */
  flags: Record<string, string>;
  /** TokenReview: tokens answered "not authenticated"; every review asked (token, audiences). */
  revoked: Set<string>;
  reviews: { token: string; audiences: string[] }[];
  /** Answer TokenReviews with this HTTP status instead (e.g. 500: the API server failing). */
  reviewFailure: number | undefined;
  /** A kubeconfig naming this server as the API server (its CA, the bearer token). */
  kubeConfig(): KubeConfig;
  close(): Promise<void>;
}

const TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews";

export async function startFakeIssuer(keys: IssuerKey[]): Promise<FakeIssuer> {
  const tls = selfSignedCertificate();
  const dir = mkdtempSync(join(tmpdir(), "sa-issuer-"));
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, `${READER_TOKEN}\n`);
  const state = {
    published: keys.map((k) => k.jwk),
    fetches: [] as (string | undefined)[],
    revoked: new Set<string>(),
    reviews: [] as { token: string; audiences: string[] }[],
    reviewFailure: undefined as number | undefined,
  };
  const server = https.createServer({ cert: tls.cert, key: readFileSync(tls.keyFile) }, (req, res) => {
    if (req.url === TOKEN_REVIEWS && req.method === "POST") return void answerTokenReview(req, res, state);
    state.fetches.push(req.headers.authorization);
    if (req.url !== "/openid/v1/jwks" || req.headers.authorization !== `Bearer ${READER_TOKEN}`) {
      res.statusCode = req.url === "/openid/v1/jwks" ? 401 : 404;
      res.end();
      return;
    }
    res.setHeader("Content-Type", "application/jwk-set+json");
    res.end(JSON.stringify({ keys: state.published }));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const jwksUri = `${origin}/openid/v1/jwks`;
  return {
    jwksUri,
    caFile: tls.certFile,
    tokenFile,
    get published() {
      return state.published;
    },
    set published(value: JWK[]) {
      state.published = value;
    },
    fetches: state.fetches,
    revoked: state.revoked,
    reviews: state.reviews,
    get reviewFailure() {
      return state.reviewFailure;
    },
    set reviewFailure(value: number | undefined) {
      state.reviewFailure = value;
    },
    kubeConfig: () => {
      const config = new KubeConfig();
      config.loadFromOptions({
        clusters: [{ name: "issuer", server: origin, caFile: tls.certFile }],
        users: [{ name: "server", token: READER_TOKEN }],
        contexts: [{ name: "issuer", cluster: "issuer", user: "server" }],
        currentContext: "issuer",
      });
      return config;
    },
    flags: {
      authenticators: "authn,authn-kubernetes",
      "kubernetes-issuer": CLUSTER_ISSUER,
      "kubernetes-jwks-uri": jwksUri,
      "kubernetes-jwks-ca-file": tls.certFile,
      "kubernetes-jwks-token-file": tokenFile,
    },
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

function answerTokenReview(
  req: IncomingMessage,
  res: ServerResponse,
  state: { revoked: Set<string>; reviews: { token: string; audiences: string[] }[]; reviewFailure: number | undefined },
): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    if (req.headers.authorization !== `Bearer ${READER_TOKEN}`) return void res.writeHead(401).end();
    if (state.reviewFailure) return void res.writeHead(state.reviewFailure).end();
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { spec: { token: string; audiences: string[] } };
    state.reviews.push({ token: body.spec.token, audiences: body.spec.audiences });
    const authenticated = !state.revoked.has(body.spec.token);
    res.setHeader("Content-Type", "application/json");
    res.end(
      JSON.stringify({
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenReview",
        spec: body.spec,
        status: authenticated
          ? { authenticated, audiences: body.spec.audiences, user: { username: "system:serviceaccount:prod:app" } }
          : { authenticated, error: "service account prod/app has been deleted" },
      }),
    );
  });
}
