/**
 * The agent's own HTTP endpoint: `/health` is 200 once every file was written (the startup
 * probe holds the application containers until then), 503 before, with the last error;
 * `/health/live` is 200 while the process runs; `/metrics` is Prometheus text.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { AgentMetrics } from "./agent-metrics.js";
import type { AgentStatus } from "./agent.js";

export async function startHealthServer(
  port: number,
  host: string,
  status: () => AgentStatus,
  metrics: AgentMetrics,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET") {
      res.writeHead(405).end();
    } else if (path === "/health" || path === "/health/ready") {
      const s = status();
      res
        .writeHead(s.ready ? 200 : 503, { "Content-Type": "application/json" })
        .end(JSON.stringify({ ready: s.ready, ...(s.lastError ? { lastError: s.lastError } : {}) }));
    } else if (path === "/health/live") {
      res.writeHead(200, { "Content-Type": "application/json" }).end('{"live":true}');
    } else if (path === "/metrics") {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { "Content-Type": metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, ok);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((ok) => (server.close(() => ok()), server.closeAllConnections())),
  };
}
