/**
 * Composition root of `strongroom server`: storage, services, the REST API listener, and
 * (when configured) the admission webhook and the Kubernetes controller. `close()` stops
 * accepting, drains in-flight requests, then closes storage.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { accountExists, createAccount } from "../accounts/accounts.js";
import { openAudit } from "../audit/open-audit.js";
import { AuthnThrottle } from "../authn/throttle.js";
import { TokenService } from "../authn/tokens.js";
import type { Config } from "../config.js";
import { createApp } from "../http/app.js";
import { LIMITS } from "../input/limits.js";
import type { Services } from "../http/services.js";
import { Metrics } from "../telemetry/metrics.js";
import { Controller, controllerTunables } from "../kubernetes/controller.js";
import { kubeClients } from "../kubernetes/api/kube-client.js";
import { apiServerTokenReviewer } from "../kubernetes/api/token-review.js";
import { startWebhookServer, type WebhookServer } from "../http/webhook/webhook-server.js";
import { TlsReloader } from "../http/tls-reloader.js";
import { initialAdminKeySink, serverMadeTls } from "../kubernetes/bootstrap/server-hooks.js";
import type { KubeConfig } from "@kubernetes/client-node";
import { openStorage } from "./storage.js";
import { WatchHub } from "../secrets/watch-hub.js";
import type { AgentInjectionOptions } from "../kubernetes/webhook/agent-patch.js";
import { SecretChanges } from "../secrets/changes.js";
import { closePolicyParser } from "../policy/parse-off-thread.js";

/** The webhook's agent settings for inject-mode agent/init, when configured; the agent trusts --agent-ca-file or the server-made CA. */
function agentInjection(config: Config, madeCaPem: string | undefined): { agent?: AgentInjectionOptions } {
  const { image, serverUrl, audience, authenticator, caFile, resources } = config.agent;
  const caPem = caFile ? readFileSync(caFile, "utf8") : madeCaPem;
  return image && serverUrl
    ? {
        agent: {
          image,
          serverUrl,
          audience,
          authenticator,
          account: config.account,
          ...(caPem ? { caPem } : {}),
          ...(resources ? { resources } : {}),
        },
      }
    : {};
}

export interface RunningServer {
  port: number;
  url: string;
  services: Services;
  /** Set when this start created the account. */
  adminApiKey: string | undefined;
  webhookPort: number | undefined;
  controller: Controller | undefined;
  /** /ready answers 503 from now on; everything else is still served until close(). */
  beginDraining(): void;
  close(): Promise<void>;
}

export interface StartOptions {
  metrics?: Metrics;
  /** Kubernetes client configuration; default KUBECONFIG, ~/.kube/config or in-cluster. */
  kubeConfig?: KubeConfig;
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen({ port, host, backlog: LIMITS.listenBacklog }, () => ok((server.address() as AddressInfo).port));
  });
}

/**
 * Stop accepting and wait for every connection to end. A kept-alive client (an agent retrying
 * a watch the stopping hub ended) would otherwise keep its connection busy for ever: requests
 * that still arrive are answered with `Connection: close`, and connections that fall idle
 * after their last answer are closed within 100 ms.
 */
function closeServer(server: http.Server): Promise<void> {
  return new Promise((ok) => {
    server.prependListener("request", (_req: http.IncomingMessage, res: http.ServerResponse) => {
      if (!res.headersSent) res.setHeader("Connection", "close");
    });
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    server.close(() => {
      clearInterval(sweep);
      ok();
    });
    server.closeIdleConnections();
  });
}

export async function startServer(config: Config, log: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const metrics = options.metrics ?? new Metrics();
  // With --webhook-tls-secret (the chart), the server makes its certificate and the webhook's caBundle.
  const madeTls = await serverMadeTls(config, log, options.kubeConfig);
  // Audit first: a server that cannot write its audit file must not start.
  const audit = await openAudit({ auditFile: config.auditFile, log, metrics });
  const { db, aead } = await openStorage(config, log, { kubeConfig: options.kubeConfig }).catch(
    async (err: unknown) => {
      await audit.close();
      throw err;
    },
  );
  let adminApiKey: string | undefined;
  if (!(await accountExists(db.pool, config.account))) {
    adminApiKey = await createAccount(
      db.pool,
      aead,
      config.account,
      initialAdminKeySink(config, log, options.kubeConfig),
    ).catch(async (err: Error) => {
      // Another replica may have created it at the same moment.
      if (await accountExists(db.pool, config.account)) return undefined;
      throw err;
    });
    if (adminApiKey) log.info({ account: config.account }, "created account");
  }
  const lifecycle = { draining: false };
  const services: Services = {
    config,
    pool: db.pool,
    aead,
    tokens: new TokenService(db.pool, aead, config.tokenTtlSeconds),
    audit,
    authnThrottle: new AuthnThrottle({
      maxFailuresPerRole: config.authnMaxFailures,
      maxFailuresPerAddress: config.authnMaxFailuresPerAddress,
      windowSeconds: config.authnFailureWindowSeconds,
    }),
    metrics,
    log,
    watchHub: new WatchHub(config.maxWatchers, {
      onWave: (_followers, seconds) => metrics.secretWatchWaveDuration.observe(seconds),
    }),
    lifecycle,
    ...(config.kubernetesAuthn.tokenReview
      ? { tokenReviewer: apiServerTokenReviewer(config.kubernetesAuthn.audience, options.kubeConfig) }
      : {}),
  };
  // The server's one LISTEN connection (secrets/changes.ts), with the pool's bounded waits. The
  // watch hub follows it for good; the controller subscribes while it leads.
  const changes = new SecretChanges(db.url, log, db.timeouts);
  changes.subscribe({
    changed: (variableId) => services.watchHub?.notify(variableId),
    resync: () => services.watchHub?.notifyAll(),
  });
  await changes.start();
  const controller = config.controller
    ? new Controller({
        db: db.pool,
        changes,
        aead,
        account: config.account,
        kube: kubeClients(options.kubeConfig),
        log,
        metrics,
        leaseNamespace: config.namespace,
        tunables: controllerTunables(config),
      })
    : undefined;
  const app = createApp(services, () => controller?.health());
  const tls =
    madeTls?.tls ??
    (config.tlsCert && config.tlsKey
      ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) }
      : undefined);
  // Our own bounds (src/input/limits.ts) decide, not Node's 16 KiB default: a batch of 1,000 ids fits.
  const serverOptions = { maxHeaderSize: LIMITS.requestHeaderBytes };
  const server = tls ? https.createServer({ ...tls, ...serverOptions }, app) : http.createServer(serverOptions, app);
  let port: number;
  let webhook: WebhookServer | undefined;
  try {
    port = await listen(server, config.port, config.host);
    if (config.webhookPort !== undefined && tls)
      webhook = await startWebhookServer({
        port: config.webhookPort,
        host: config.host,
        ...tls,
        metrics,
        log,
        ...agentInjection(config, madeTls?.caPem),
      });
  } catch (err) {
    await changes.stop();
    await closeServer(server);
    await db.close();
    await audit.close();
    throw err;
  }
  // Certificates from files (cert-manager's Secret) are re-read when they change on disk.
  const tlsReloader =
    tls && !madeTls && config.tlsCert && config.tlsKey
      ? new TlsReloader(
          { certFile: config.tlsCert, keyFile: config.tlsKey },
          webhook ? [server as https.Server, webhook] : [server as https.Server],
          log,
          tls,
          {
            onReload: (outcome) => metrics.tlsReloads.inc({ outcome }),
          },
        )
      : undefined;
  tlsReloader?.start();
  controller?.start();
  const host = config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
  log.info({ port, tls: Boolean(tls), embeddedPostgres: db.embedded }, "strongroom server listening");
  return {
    port,
    url: `${tls ? "https" : "http"}://${host}:${port}`,
    services,
    adminApiKey,
    webhookPort: webhook?.port,
    controller,
    beginDraining() {
      lifecycle.draining = true;
    },
    async close() {
      madeTls?.stop();
      tlsReloader?.stop();
      services.watchHub?.close();
      await Promise.all([closeServer(server), webhook?.close()]);
      await controller?.stop();
      await changes.stop();
      await db.close();
      await audit.close();
      // The parser's worker pool is per process (made again on the next load, if any).
      await closePolicyParser();
    },
  };
}
