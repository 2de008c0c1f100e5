/**
 * Seeded generators of hostile requests for the fuzz tests: the same seed gives the same
 * cases, so a failure is reproduced with FUZZ_SEED=<seed>. Shared with `npm run soak`.
 */
export type Rng = () => number;

/** mulberry32: small, fast, good enough to spread cases. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(r: Rng, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const chance = (r: Rng, p: number): boolean => r() < p;

function randomText(r: Rng, length: number): string {
  let s = "";
  for (let i = 0; i < length; i++)
    s += String.fromCharCode(chance(r, 0.9) ? 32 + Math.floor(r() * 95) : Math.floor(r() * 0x3000));
  return s;
}

const NASTY = [
  "",
  "\0",
  "a\0b",
  "%00",
  "%",
  "%zz",
  "%E0%A4%A",
  "..",
  "../..",
  "/",
  "//",
  ":",
  "::",
  "a:b:c",
  "*",
  "?",
  "#",
  "+",
  " ",
  "\t",
  "\u0001",
  "é",
  "😀",
  "\uD800",
  "\uFFFF",
  "' OR 1=1--",
  "'; DROP TABLE roles;--",
  "${jndi}",
  "{{x}}",
  "\\",
  "null",
  "[]",
  "{}",
  "true",
  "-1",
  "0",
  "1e309",
  "NaN",
  "99999999999999999999",
  "9223372036854775807",
  "2147483648",
  "0x10",
  "1.5",
  "\u202E",
  "<script>",
];

/** A string meant to break something: a known troublemaker, random text of a risky length, or a mix. */
export function nasty(r: Rng): string {
  const roll = r();
  if (roll < 0.55) return pick(r, NASTY);
  if (roll < 0.85) return randomText(r, pick(r, [1, 8, 64, 300, 1025, 3000, 9000]));
  return pick(r, NASTY) + randomText(r, 5) + pick(r, NASTY);
}

/** Percent-encodes what a request line cannot carry raw; keeps `%`, `/`, `?` raw, so broken escapes get through. */
export function pathSafe(s: string): string {
  let out = "";
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (code > 0x20 && code < 0x7f && ch !== "#") out += ch;
    else out += [...Buffer.from(ch, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join("");
  }
  return out;
}

/** Header values may only hold tab and printable latin1. */
export const headerSafe = (s: string): string => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, "?").slice(0, 4000);

const b64 = (s: string | Buffer): string => Buffer.from(s).toString("base64");
const b64url = (v: unknown): string => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/** A forged access token: broken JSON, wrong shapes, nasty kids, real structure with a bad signature. */
export function forgedToken(r: Rng): string {
  const value = (): unknown => pick(r, [nasty(r), null, 1, [], {}, true, { alg: nasty(r) }]);
  const roll = r();
  if (roll < 0.15) return b64(nasty(r));
  if (roll < 0.3) return nasty(r);
  if (roll < 0.5) return b64(JSON.stringify({ protected: value(), payload: value(), signature: value() }));
  const header = chance(r, 0.5)
    ? { alg: "strongroom.io/hs256/v1", kid: chance(r, 0.5) ? nasty(r) : "0".repeat(64) }
    : value();
  const payload = chance(r, 0.5)
    ? { sub: nasty(r), iat: pick(r, [0, -1, 1e20, Date.now() / 1000]), exp: value() }
    : value();
  const parts = {
    protected: chance(r, 0.8) ? b64url(header ?? "null") : nasty(r),
    payload: b64url(payload ?? "null"),
    signature: chance(r, 0.5) ? b64url(nasty(r)) : nasty(r),
  };
  return b64(JSON.stringify(parts));
}

/** A YAML policy fragment: tags, anchors and aliases, nasty ids and annotations. */
export function hostilePolicy(r: Rng): string {
  const tag = (): string =>
    pick(r, [
      "!variable",
      "!host",
      "!user",
      "!group",
      "!layer",
      "!policy",
      "!webservice",
      "!grant",
      "!permit",
      "!deny",
      "!delete",
      "!revoke",
      "!member",
      "!bogus",
      "",
    ]);
  const id = (): string => JSON.stringify(nasty(r));
  const lines: string[] = [];
  const count = 1 + Math.floor(r() * 6);
  for (let i = 0; i < count; i++) {
    const roll = r();
    if (roll < 0.3) lines.push(`- ${tag()} ${id()}`);
    else if (roll < 0.5) lines.push(`- ${tag()}\n  id: ${id()}\n  annotations:\n    ${id()}: ${id()}`);
    else if (roll < 0.65)
      lines.push(`- !permit\n  role: ${tag()} ${id()}\n  privileges: [${id()}, read]\n  resource: ${tag()} ${id()}`);
    else if (roll < 0.75)
      lines.push(
        `- &a${i} [${Array(1 + Math.floor(r() * 10))
          .fill(i > 0 ? `*a${i - 1}` : "!variable x")
          .join(", ")}]`,
      );
    else if (roll < 0.85)
      lines.push(`- !policy\n  id: ${id()}\n  body:\n  - ${tag()} ${id()}\n  - *a${Math.floor(r() * 5)}`);
    else lines.push(randomText(r, 40));
  }
  return lines.join("\n") + "\n";
}

const ROUTES: [string[], string][] = [
  [["POST"], "/authn/{account}/{login}/authenticate"],
  [["GET"], "/authn/{account}/login"],
  [["GET", "PUT"], "/authn/{account}/api_key"],
  [["PUT"], "/authn/{account}/password"],
  [["GET"], "/whoami"],
  [["GET", "POST"], "/secrets/{account}/{kind}/{id}"],
  [["GET", "POST"], "/secrets"],
  [["GET"], "/secrets/watch"],
  [["POST", "PATCH", "PUT", "GET"], "/policies/{account}/policy/{id}"],
  [["GET"], "/resources"],
  [["GET"], "/resources/{account}"],
  [["GET"], "/resources/{account}/{kind}"],
  [["GET"], "/resources/{account}/{kind}/{id}"],
  [["GET", "POST", "DELETE"], "/roles/{account}/{kind}/{id}"],
  [["POST"], "/authn-jwt/{id}/{account}/authenticate"],
  [["POST"], "/authn-jwt/{id}/{account}/{id}/authenticate"],
  [["GET"], "/authn-jwt/{id}/{account}/status"],
  [["PATCH"], "/authn-jwt/{id}/{account}"],
  [["GET"], "/authenticators"],
  [["GET"], "/public_keys/{account}/{kind}/{id}"],
  [["POST"], "/host_factory_tokens"],
  [["DELETE"], "/host_factory_tokens/{id}"],
  [["POST"], "/host_factories/hosts"],
  [["GET", "POST"], "/accounts"],
  [["GET"], "/health"],
  [["GET"], "/ready"],
  [["POST"], "/authn-kubernetes/{account}/authenticate"],
  [["POST"], "/authn-kubernetes/{account}/{id}/authenticate"],
  [["GET", "POST"], "/{id}"],
  [["GET"], "/"],
];
const QUERY_KEYS = [
  "version",
  "variable_ids",
  "offset",
  "limit",
  "search",
  "check",
  "privilege",
  "role",
  "count",
  "kind",
  "all",
  "members",
  "memberships",
  "member",
  "permitted_roles",
  "filter[]",
  "filter",
  "expirations",
  "dryRun",
  "id",
  "host_factory",
  "expiration",
  "cidr",
  "timeout",
  "cursor",
  "depth",
];

export interface FuzzCase {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** A `POST /secrets` form body: `variable_ids=` with real, nasty, repeated or far too many ids. */
function hostileIdList(r: Rng, account: string): string {
  const count = r() < 0.1 ? 1000 + Math.floor(r() * 200) : Math.floor(r() * 20);
  const ids = Array.from({ length: count }, () => (r() < 0.5 ? `${account}:variable:db/password` : nasty(r))).map(
    // Percent-encoded as a form (lone surrogates included, as their UTF-8 replacement bytes).
    (id) => pathSafe(id).replace(/[&=+,]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
  );
  const key = r() < 0.9 ? "variable_ids" : pathSafe(nasty(r));
  return `${key}=${ids.join(r() < 0.9 ? "," : "%2C")}${r() < 0.2 ? `&${pathSafe(nasty(r))}=x` : ""}`;
}

/** One hostile request over a random route: nasty path parts, query, headers, body, forged or real tokens. */
export function generateRequest(r: Rng, account: string, tokens: { admin: string; host: string }): FuzzCase {
  const [methods, template] = pick(r, ROUTES);
  const method = r() < 0.9 ? pick(r, methods) : pick(r, ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]);
  const good: Record<string, string[]> = {
    account: [account, "other"],
    kind: ["variable", "host", "user", "group", "policy", "layer", "webservice"],
    id: ["db/password", "root", "app", "admin"],
    login: ["admin", "host/app"],
  };
  let path = template.replace(/\{(\w+)\}/g, (_m, name: string) =>
    pathSafe(r() < 0.5 ? pick(r, good[name]!) : nasty(r)),
  );
  const params = Math.floor(r() * 5);
  const query: string[] = [];
  for (let i = 0; i < params; i++) {
    const key = r() < 0.85 ? pick(r, QUERY_KEYS) : nasty(r);
    const value =
      r() < 0.4
        ? pick(r, ["true", "1", "10", "read", "execute", `${account}:variable:db/password`, `${account}:user:admin`])
        : nasty(r);
    query.push(`${pathSafe(key).replace(/[&=]/g, "")}=${pathSafe(value)}`);
  }
  if (query.length) path += `?${query.join("&")}`;
  const headers: Record<string, string> = {};
  const auth = r();
  if (auth < 0.35) headers.Authorization = `Token token="${tokens.admin}"`;
  else if (auth < 0.5) headers.Authorization = `Token token="${tokens.host}"`;
  else if (auth < 0.7) headers.Authorization = `Token token="${headerSafe(forgedToken(r))}"`;
  else if (auth < 0.85) headers.Authorization = `Basic ${Buffer.from(`${nasty(r)}:${nasty(r)}`).toString("base64")}`;
  else if (auth < 0.9) headers.Authorization = headerSafe(nasty(r));
  if (r() < 0.3) headers["Accept-Encoding"] = r() < 0.5 ? "base64" : headerSafe(nasty(r));
  if (r() < 0.3)
    headers["Content-Type"] = pick(r, [
      "application/x-www-form-urlencoded",
      "application/json",
      "text/plain",
      "application/x-yaml",
      headerSafe(nasty(r)),
    ]);
  if (r() < 0.1) headers["X-Request-Id"] = headerSafe(nasty(r));
  if (r() < 0.1) headers["X-Forwarded-For"] = headerSafe(nasty(r));
  let body: string | Buffer | undefined;
  if (method !== "GET" && method !== "HEAD") {
    const roll = r();
    if (template.startsWith("/policies")) body = hostilePolicy(r);
    else if (template === "/secrets" && roll < 0.6) body = hostileIdList(r, account);
    else if (roll < 0.3) body = `jwt=${pathSafe(forgedToken(r))}`;
    else if (roll < 0.6) body = nasty(r);
    else body = Buffer.from(Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256)));
  }
  if (template === "/secrets" && method === "POST" && r() < 0.8)
    headers["Content-Type"] = "application/x-www-form-urlencoded";
  return { method, path, headers, ...(body !== undefined ? { body } : {}) };
}
