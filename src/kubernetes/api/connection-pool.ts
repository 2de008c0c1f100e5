/**
 * One connection pool per cluster and user for every Kubernetes API call
 * (docs/adr/0017-operator-runtime.md, "Connections").
 *
 * Why not the library's own dispatcher: @kubernetes/client-node 2.0.1 builds a new undici
 * Agent for every request to a TLS cluster, so no connection was ever reused. Memoising
 * that Agent was not enough either: it opens a connection for every request in flight
 * (unbounded), and keeps an idle one only 4 s (or the server's hint minus 2 s). After every
 * rotation the burst of Secret writes and pod nudges opened a dozen connections, which
 * idled out during the 20-second nudge drain and were opened again by the next rotation.
 *
 * So: HTTP/1.1 request/response calls (any verb) share a small bounded pool whose idle
 * connections live as long as the API server keeps them (kube-apiserver's IdleTimeout is
 * 90 s; we close at 60 s to never race its close); excess calls wait in the pool's queue
 * instead of opening sockets. A watch holds its connection for minutes, so watches get
 * their own unbounded agent and can never starve the calls (nor be starved by them).
 */
import { Agent, type Dispatcher } from "undici";

/** Connections shared by all request/response calls (reconciles, nudges, Events, Lease). */
export const API_CONNECTIONS = 4;
/** How long an idle connection is kept: below kube-apiserver's 90 s IdleTimeout. */
export const IDLE_KEEP_MS = 60_000;

/** Our TLS and socket options as the library computes them for this cluster and user. */
export type ConnectOptions = Record<string, unknown>;

const isWatch = (path: string | undefined): boolean => /[?&]watch=(true|1)(&|$)/.test(path ?? "");

export function sharedDispatcher(connect: ConnectOptions | undefined, connections = API_CONNECTIONS): Dispatcher {
  const options = {
    ...(connect ? { connect } : {}),
    keepAliveTimeout: IDLE_KEEP_MS,
    keepAliveMaxTimeout: IDLE_KEEP_MS,
  };
  const calls = new Agent({ ...options, connections });
  const watches = new Agent(options);
  return calls.compose(
    (dispatch) => (opts, handler) => (isWatch(opts.path) ? watches.dispatch(opts, handler) : dispatch(opts, handler)),
  );
}
