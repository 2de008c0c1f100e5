/**
 * TokenReview: asks the API server whether a service-account token is still good. Offline
 * verification (signature, issuer, audience, expiry) cannot see what the API server knows:
 * that the token's ServiceAccount — or the pod a projected token is bound to — was deleted
 * (or deleted and recreated under another uid). Needs `create` on
 * authentication.k8s.io/tokenreviews (the chart grants it with authn-kubernetes).
 */
import * as k8s from "@kubernetes/client-node";
import { defaultKubeConfig, reuseConnections } from "./kube-client.js";

/** true: the API server accepts the token for `audience`; false: it does not. Throws when it cannot be asked. */
export type TokenReviewer = (token: string) => Promise<boolean>;

export function apiServerTokenReviewer(
  audience: string,
  config: k8s.KubeConfig = defaultKubeConfig(),
  timeoutMs = 5_000,
): TokenReviewer {
  reuseConnections(config);
  const api = config.makeApiClient(k8s.AuthenticationV1Api);
  return async (token) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`no TokenReview answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const review = await Promise.race([
        api.createTokenReview({ body: { spec: { token, audiences: [audience] } } }),
        timeout,
      ]);
      // Authenticated for another audience only would leave `audiences` without ours.
      return review.status?.authenticated === true && (review.status.audiences ?? [audience]).includes(audience);
    } finally {
      clearTimeout(timer);
    }
  };
}
