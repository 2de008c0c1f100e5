/** What the HTTP layer needs, built once by the composition root (cli/server.ts). */
import type pg from "pg";
import type { Logger } from "pino";
import type { Audit } from "../audit/audit.js";
import type { AuthnThrottle } from "../authn/throttle.js";
import type { TokenService } from "../authn/tokens.js";
import type { Config } from "../config.js";
import type { Aead } from "../crypto/aead.js";
import type { Metrics } from "../telemetry/metrics.js";
import type { WatchHub } from "../secrets/watch-hub.js";

export interface Services {
  config: Config;
  pool: pg.Pool;
  aead: Aead;
  tokens: TokenService;
  audit: Audit;
  authnThrottle: AuthnThrottle;
  metrics: Metrics;
  log: Logger;
  /** Fan-out of secret changes to GET /secrets/watch; absent = the route answers 503. */
  watchHub?: WatchHub;
  /** authn-kubernetes: asks the API server about each token (TokenReview); absent = offline checks only. */
  tokenReviewer?: (token: string) => Promise<boolean>;
  /** Set once the process is stopping: GET /ready answers 503 while requests are still served. */
  lifecycle?: { draining: boolean };
}
