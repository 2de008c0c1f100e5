/**
 * Access tokens in Conjur's JSON serialisation: {"protected","payload","signature"}, each
 * base64url; claims {iat, sub, exp}. Signed with a per-account HMAC-SHA256 key held as a
 * KeyObject (stored encrypted in `signing_keys`); see docs/adr/0004-hmac-access-tokens.md.
 * Verified tokens are cached until they expire, so a request costs one Map lookup.
 */
import { createHash, createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";
import type { Aead } from "../crypto/aead.js";
import { errors } from "../errors.js";
import type { Queryable } from "../storage/database.js";
import { LRUCache } from "lru-cache";

export interface TokenClaims {
  account: string;
  login: string;
  iat: number;
  exp: number;
}

interface SigningKey {
  account: string;
  kid: string;
  key: KeyObject;
}

const ALG = "strongroom.io/hs256/v1";
const RECOGNISED_CLAIMS = new Set(["iat", "sub", "exp", "cidr", "iss", "aud", "jti"]);
/** Verified tokens remembered; the least recently used go first. */
const CACHE_LIMIT = 50_000;
/** Conjur pads its base64url (Ruby's urlsafe_encode64); the Ruby SDK decodes strictly, so we pad too. */
const b64url = (s: string | Buffer): string => {
  const unpadded = Buffer.from(s).toString("base64url");
  return unpadded + "=".repeat((4 - (unpadded.length % 4)) % 4);
};
/**
 * The Go SDK (authn.NewToken: base64.StdEncoding) and the Ruby SDK (strict_decode64) decode the
 * payload with the *standard* alphabet, so a `-` or `_` in it breaks them. Those appear only for
 * `>`, `?`, `~`, DEL or non-ASCII bytes at some offsets (e.g. login `host/ap~1`); escaping those
 * characters as JSON `\uXXXX` keeps the payload ASCII without them, so both alphabets agree.
 */
const claimsJson = (claims: object): string =>
  JSON.stringify(claims).replace(/[>?~\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
/** A signing key's fingerprint, as stored: 64 hex digits. Anything else never reaches SQL. */
const KID = /^[0-9a-f]{64}$/;
/** Tokens larger than this are not ours (ours are ~300 bytes); refuse before decoding. */
const MAX_TOKEN_CHARS = 8192;

interface ParsedToken {
  protectedPart: string;
  payload: string;
  signature: Buffer;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Decodes the token's JSON serialisation; undefined for any malformation, never a throw. */
function parseToken(encoded: string): ParsedToken | undefined {
  try {
    const token: unknown = JSON.parse(Buffer.from(encoded, "base64").toString("utf8"));
    if (!isObject(token)) return undefined;
    const { protected: protectedPart, payload, signature } = token;
    if (typeof protectedPart !== "string" || typeof payload !== "string" || typeof signature !== "string")
      return undefined;
    const header: unknown = JSON.parse(Buffer.from(protectedPart, "base64url").toString("utf8"));
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    if (!isObject(header) || !isObject(claims)) return undefined;
    return { protectedPart, payload, signature: Buffer.from(signature, "base64url"), header, claims };
  } catch {
    return undefined;
  }
}

export class TokenService {
  readonly #byAccount = new Map<string, SigningKey>();
  readonly #byKid = new Map<string, SigningKey>();
  readonly #verified = new LRUCache<string, TokenClaims>({ max: CACHE_LIMIT });

  constructor(
    private readonly db: Queryable,
    private readonly aead: Aead,
    private readonly ttlSeconds: number,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  /** Create an account's signing key (inside the account-creation transaction). */
  static async createSigningKey(db: Queryable, aead: Aead, account: string): Promise<void> {
    const raw = randomBytes(32);
    const kid = createHash("sha256").update("strongroom-kid:").update(raw).digest("hex");
    await db.query("INSERT INTO signing_keys (account, key, fingerprint) VALUES ($1, $2, $3)", [
      account,
      aead.encrypt(raw, `authn:${account}`),
      kid,
    ]);
  }

  async #load(where: "account" | "fingerprint", value: string): Promise<SigningKey | undefined> {
    const { rows } = await this.db.query<{ account: string; key: Buffer; fingerprint: string }>(
      `SELECT account, key, fingerprint FROM signing_keys WHERE ${where} = $1`,
      [value],
    );
    const row = rows[0];
    if (!row) return undefined;
    const key = {
      account: row.account,
      kid: row.fingerprint,
      key: createSecretKey(this.aead.decrypt(row.key, `authn:${row.account}`)),
    };
    this.#byAccount.set(key.account, key);
    this.#byKid.set(key.kid, key);
    return key;
  }

  #sign(key: SigningKey, input: string): Buffer {
    return createHmac("sha256", key.key).update(input).digest();
  }

  /** Issue a token for `login` in `account`; returns the token JSON text. */
  async issue(account: string, login: string): Promise<string> {
    const key = this.#byAccount.get(account) ?? (await this.#load("account", account));
    if (!key) throw errors.unauthorized();
    const iat = this.now();
    const protectedPart = b64url(JSON.stringify({ alg: ALG, kid: key.kid }));
    const payload = b64url(claimsJson({ iat, sub: login, exp: iat + this.ttlSeconds }));
    const signature = b64url(this.#sign(key, `${protectedPart}.${payload}`));
    return JSON.stringify({ protected: protectedPart, payload, signature });
  }

  /** Verify the value of an `Authorization` header; throws 401 for anything wrong. */
  async verifyHeader(header: string | undefined): Promise<TokenClaims> {
    const match = header ? /^Token token="([\s\S]*)"/.exec(header) : null;
    if (!match) throw errors.unauthorized("Authorization missing");
    const encoded = match[1]!.trim();
    const cached = this.#verified.get(encoded);
    if (cached) {
      if (cached.exp > this.now()) return cached;
      this.#verified.delete(encoded);
      throw errors.unauthorized("Unauthorized: Invalid token");
    }
    const claims = await this.#verify(encoded);
    this.#verified.set(encoded, claims);
    return claims;
  }

  async #verify(encoded: string): Promise<TokenClaims> {
    const token = encoded.length <= MAX_TOKEN_CHARS ? parseToken(encoded) : undefined;
    if (!token) throw errors.unauthorized("Malformed authorization token");
    const { header, claims } = token;
    const invalid = errors.unauthorized("Unauthorized: Invalid token");
    if (header.alg !== ALG || typeof header.kid !== "string" || !KID.test(header.kid)) throw invalid;
    const key = this.#byKid.get(header.kid) ?? (await this.#load("fingerprint", header.kid));
    if (!key) throw invalid;
    // Signed over the parts exactly as given, so padded and unpadded tokens both verify.
    const expected = this.#sign(key, `${token.protectedPart}.${token.payload}`);
    if (expected.length !== token.signature.length || !timingSafeEqual(expected, token.signature)) throw invalid;
    if (Object.keys(claims).some((c) => !RECOGNISED_CLAIMS.has(c)))
      throw errors.unauthorized("token contains unrecognized claims");
    const { iat, exp, sub } = claims;
    if (typeof iat !== "number" || typeof sub !== "string" || sub === "") throw invalid;
    const expiry = typeof exp === "number" ? exp : iat + 480;
    if (expiry <= this.now()) throw invalid;
    return { account: key.account, login: sub, iat, exp: expiry };
  }
}
