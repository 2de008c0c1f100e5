/**
 * `GET /secrets/watch?…&stream=true`: the change stream as one long response, as a
 * Kubernetes `?watch=true` is. One JSON line per answer (`{"changed","cursor"}\n`, NDJSON):
 * a change as soon as its wave judges it, an unchanged heartbeat every `timeout` seconds
 * (re-checked like a long-poll's timeout). A change costs the server one write per
 * follower, with no request to parse, authenticate and re-arm (bench/README.md, agents).
 *
 * The response ends (the client reconnects with its cursor) when the caller's token expires,
 * when a re-check refuses (the next request gets the 403/404, and this one learns nothing),
 * when the server stops, or when the client stops reading (over STREAM_BUFFER_BYTES unsent).
 * Errors before the first byte are ordinary error responses.
 */
import type { Response } from "express";
import { errors } from "../../errors.js";
import { WatchHubFullError, type ClientGone, type WatchAnswer, type WatchHub } from "../../secrets/watch-hub.js";
import type { Services } from "../services.js";

/** Unread bytes a stream may pile up (about 800 answers) before the reader is cut off. */
export const STREAM_BUFFER_BYTES = 64 * 1024;

export interface StreamRequest {
  hub: WatchHub;
  roleId: string;
  ids: string[];
  known: string | undefined;
  timeoutMs: number;
  /** The caller's token expires then (epoch ms). */
  untilMs: number;
  client: ClientGone;
}

export async function serveStream(services: Services, res: Response, watch: StreamRequest): Promise<void> {
  const outcomes = services.metrics.secretWatchResponses;
  // Bound once per stream: a wave sends thousands of lines.
  const counted = {
    changed: outcomes.labels({ outcome: "changed" }),
    unchanged: outcomes.labels({ outcome: "unchanged" }),
  };
  const begin = (): void => {
    if (res.headersSent) return;
    // X-Accel-Buffering: a proxy that buffers (nginx does by default) would hold the lines back.
    res.writeHead(200, {
      "Content-Type": "application/x-ndjson; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Accel-Buffering": "no",
    });
    res.flushHeaders();
  };
  const send = (answer: WatchAnswer): void => {
    begin();
    // No socket yet: a pipelined request waits for the one before it, and res buffers for it.
    const socket = res.socket;
    if ((socket ?? res).writableLength > STREAM_BUFFER_BYTES) {
      res.destroy(); // the client reads no more: its answers are not kept for it
      return;
    }
    const line = `${JSON.stringify(answer)}\n`;
    // One chunk, framed here and written to the socket at once. res.write corks the socket
    // until the next tick: a wave's synchronous loop then held every follower's pieces in
    // memory together, and the scavenges that copied them cost 0.4 s in a wave of 10,000.
    // res.end() still writes the last chunk. (An HTTP/1.0 client gets no chunking: res.write.)
    if (socket && res.chunkedEncoding) socket.write(`${Buffer.byteLength(line).toString(16)}\r\n${line}\r\n`);
    else res.write(line);
    (answer.changed ? counted.changed : counted.unchanged).inc();
  };
  const follow = { onEvent: send, onArmed: begin, untilMs: watch.untilMs };
  let cursor = watch.known;
  for (;;) {
    let answer: WatchAnswer | "aborted";
    try {
      answer = await watch.hub.watch(
        services.pool,
        watch.roleId,
        watch.ids,
        cursor,
        watch.timeoutMs,
        watch.client,
        follow,
      );
    } catch (err) {
      if (res.headersSent) break; // refused on a re-check: the stream ends, saying nothing
      if (!(err instanceof WatchHubFullError)) throw err;
      outcomes.inc({ outcome: "refused" });
      throw errors.unavailable("too many watches on this server; retry later");
    }
    if (answer === "aborted") {
      if (!res.headersSent && !watch.client.gone) throw errors.unavailable("the server is shutting down");
      break;
    }
    // An answer that ends a hold: a stale cursor (changed), or the end (the token expires).
    send(answer);
    cursor = answer.cursor;
    if (!answer.changed || Date.now() >= watch.untilMs) break;
  }
  if (!watch.client.gone && !res.destroyed) res.end();
}
