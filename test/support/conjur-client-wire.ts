/**
 * What CyberArk's official Conjur clients put on the wire and how they read the answer, copied
 * from their source (cyberark/conjur-api-go, conjur-api-python, conjur-api-ruby, summon-conjur,
 * conjur-authn-k8s-client) so test/api/official-clients.test.ts can replay them byte for byte.
 * Requests go through node:http (rawRequest), so paths, headers and bodies are sent unaltered.
 */
import http from "node:http";
import { rawRequest, type RawResponse } from "./raw-request.js";

/** What each client's HTTP stack adds to every request by itself. */
export const STACK_HEADERS = {
  /** net/http: Go-http-client/1.1; the Transport adds `Accept-Encoding: gzip` when the request sets none. */
  go: {
    "User-Agent": "Go-http-client/1.1",
    "Accept-Encoding": "gzip",
    "x-cybr-telemetry": Buffer.from("in=Go SDK&it=cybr-secretsmanager&iv=0.13.18&vv=CyberArk").toString("base64"),
  },
  /** aiohttp 3.x: a `str` body also gets `Content-Type: text/plain; charset=utf-8`. */
  python: { "User-Agent": "Python/3.11 aiohttp/3.9.5", Accept: "*/*", "Accept-Encoding": "gzip, deflate" },
  /** rest-client 2.1 on Net::HTTP, which labels a String body `application/x-www-form-urlencoded` when none is given. */
  ruby: {
    "User-Agent": "rest-client/2.1.0 (linux x86_64) ruby/3.1.2p20",
    Accept: "*/*",
    "Accept-Encoding": "gzip;q=1.0,deflate;q=0.6,identity;q=0.3",
  },
  /** conjur-authn-k8s-client pkg/authenticator/jwt/requests.go:AuthenticateRequest. */
  k8s: { "User-Agent": "k8s", "Content-Type": "text/plain" },
} as const;

export const PY_TEXT = "text/plain; charset=utf-8";
export const NET_HTTP_DEFAULT_TYPE = "application/x-www-form-urlencoded";

export interface WireResponse extends RawResponse {
  text: string;
  json(): any;
}

/** One request exactly as given; `chunked` sends the body with Transfer-Encoding: chunked (Go's io.Reader of unknown length). */
export async function wire(
  baseUrl: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean } = {},
): Promise<WireResponse> {
  const res = opts.chunked
    ? await chunkedRequest(baseUrl, method, path, opts.headers ?? {}, opts.body ?? "")
    : await rawRequest(baseUrl, method, path, opts);
  const text = res.body.toString("utf8");
  return { ...res, text, json: () => JSON.parse(text) };
}

function chunkedRequest(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | Buffer,
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { ...headers, "Transfer-Encoding": "chunked" },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    const bytes = Buffer.from(body);
    req.write(bytes.subarray(0, Math.ceil(bytes.length / 2)));
    req.end(bytes.subarray(Math.ceil(bytes.length / 2)));
  });
}

const hex = (c: string): string =>
  [...Buffer.from(c)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join("");

/** Go url.QueryEscape: everything but A-Z a-z 0-9 - _ . ~ is escaped, a space becomes `+`. */
export const goQueryEscape = (s: string): string => s.replace(/[^A-Za-z0-9\-_.~ ]/g, hex).replace(/ /g, "+");
/** Go url.PathEscape: a path segment; `$ & + : = @` stay, `/ ; , ?` and space are escaped. */
export const goPathEscape = (s: string): string => s.replace(/[^A-Za-z0-9\-_.~$&+:=@]/g, hex);
/** Python urllib.parse.quote(s, safe='') — also Ruby's Conjur::Escape#fully_escape (CGI.escape, then + → %20). */
export const fullyEscape = (s: string): string => s.replace(/[^A-Za-z0-9\-_.~]/g, hex);
/** Ruby CGI.escape as used by Hash#to_query: a space becomes `+`. */
export const cgiEscape = (s: string): string => s.replace(/[^A-Za-z0-9\-_.~ ]/g, hex).replace(/ /g, "+");
/** Go url.Values.Encode / Ruby Hash#to_query: keys sorted, each key and value escaped. */
export const encodeSorted = (pairs: [string, string][], escape: (s: string) => string): string =>
  [...pairs]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${escape(k)}=${escape(v)}`)
    .join("&");

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Go base64.StdEncoding.DecodeString and Ruby Base64.strict_decode64: standard alphabet, padded, nothing else. */
export function strictBase64(s: string): Buffer {
  if (!STD_BASE64.test(s)) throw new Error(`illegal base64 data: ${s.slice(0, 40)}`);
  return Buffer.from(s, "base64");
}
/** Python base64.b64decode (validate=False): characters outside the alphabet are dropped, padding must be right. */
export function pythonB64decode(s: string): Buffer {
  const kept = s.replace(/[^A-Za-z0-9+/=]/g, "");
  if (!STD_BASE64.test(kept)) throw new Error("binascii.Error: Incorrect padding");
  return Buffer.from(kept, "base64");
}

/** conjur-api-go authn/auth_token.go:NewToken + FromJSON — what the Go SDK demands of an access token. */
export function goNewToken(data: Buffer | string): { sub: string; iat: number; exp?: number } {
  const fields: unknown = JSON.parse(data.toString());
  if (!fields || typeof fields !== "object" || Object.values(fields).some((v) => typeof v !== "string"))
    throw new Error("Unable to unmarshal token");
  const { protected: p, payload, signature } = fields as Record<string, string>;
  if (p === undefined || payload === undefined || signature === undefined) throw new Error("Unrecognized token format");
  const claims = JSON.parse(strictBase64(payload).toString());
  if (typeof claims.iat !== "number") throw new Error("access token field 'payload' does not contain 'iat'");
  if (claims.exp !== undefined && claims.iat > claims.exp) throw new Error("access token expired before it was issued");
  return claims;
}

/** `Authorization` as conjur-api-go authn.go:createAuthRequest, Python http_wrapper.invoke_endpoint and Ruby base.rb:credentials build it. */
export const tokenHeader = (tokenJson: Buffer | string): string =>
  `Token token="${Buffer.from(tokenJson).toString("base64")}"`;
export const basicAuth = (login: string, password: string): string =>
  `Basic ${Buffer.from(`${login}:${password}`).toString("base64")}`;

/** Masterminds/semver (Go) and Gem::Version (Ruby) comparison for plain x.y.z. */
export function versionAtLeast(actual: string, min: string): boolean {
  const a = actual.split("-")[0]!.split(".").map(Number);
  const m = min.split(".").map(Number);
  if (a.length !== 3 || a.some((n) => !Number.isInteger(n)))
    throw new Error(`failed to parse server version: ${actual}`);
  for (let i = 0; i < 3; i++) if (a[i] !== m[i]) return a[i]! > m[i]!;
  return true;
}
