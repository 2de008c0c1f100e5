/**
 * The one HTTP(S) GET the server makes to other services (JWKS documents for authn-jwt and
 * authn-kubernetes), on undici: no redirects followed, the response read up to `maxBytes`
 * and no further, the caller's signal for time. With `ca`, that CA alone is trusted (a
 * dispatcher made for the call and closed after it: these fetches are rare — jose caches the
 * keys — and the CA file may change between them); without, the system's CAs.
 */
import { Agent, request } from "undici";

export interface BoundedGet {
  headers?: Record<string, string>;
  /** PEM; when set, the only CA trusted. */
  ca?: string | Buffer;
  signal: AbortSignal;
  maxBytes: number;
}

export async function boundedGet(url: URL, options: BoundedGet): Promise<{ status: number; body: Buffer }> {
  const dispatcher = options.ca ? new Agent({ connect: { ca: options.ca } }) : undefined;
  try {
    const res = await request(url, {
      method: "GET",
      headers: options.headers ?? {},
      signal: options.signal,
      ...(dispatcher ? { dispatcher } : {}),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > options.maxBytes) {
        res.body.destroy();
        throw new Error(`response exceeds ${options.maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
    return { status: res.statusCode, body: Buffer.concat(chunks) };
  } finally {
    void dispatcher?.close();
  }
}
