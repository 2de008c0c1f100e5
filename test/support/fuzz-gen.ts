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
  for (let i = 0; i < length; i++) s += String.fromCharCode(chance(r, 0.9) ? 32 + Math.floor(r() * 95) : Math.floor(r() * 0x3000));
  return s;
}

const NASTY = [
  "", "\0", "a\0b", "%00", "%", "%zz", "%E0%A4%A", "..", "../..", "/", "//", ":", "::", "a:b:c", "*", "?", "#", "+", " ", "\t", "\u0001",
  "é", "😀", "\uD800", "\uFFFF", "' OR 1=1--", "'; DROP TABLE roles;--", "${jndi}", "{{x}}", "\\", "null", "[]", "{}", "true",
  "-1", "0", "1e309", "NaN", "99999999999999999999", "9223372036854775807", "2147483648", "0x10", "1.5", "\u202E", "<script>",
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
  const header = chance(r, 0.5) ? { alg: "strongroom.io/hs256/v1", kid: chance(r, 0.5) ? nasty(r) : "0".repeat(64) } : value();
  const payload = chance(r, 0.5) ? { sub: nasty(r), iat: pick(r, [0, -1, 1e20, Date.now() / 1000]), exp: value() } : value();
  const parts = { protected: chance(r, 0.8) ? b64url(header ?? "null") : nasty(r), payload: b64url(payload ?? "null"), signature: chance(r, 0.5) ? b64url(nasty(r)) : nasty(r) };
  return b64(JSON.stringify(parts));
}

/** A YAML policy fragment: tags, anchors and aliases, nasty ids and annotations. */
export function hostilePolicy(r: Rng): string {
  const tag = (): string => pick(r, ["!variable", "!host", "!user", "!group", "!layer", "!policy", "!webservice", "!grant", "!permit", "!deny", "!delete", "!revoke", "!member", "!bogus", ""]);
  const id = (): string => JSON.stringify(nasty(r));
  const lines: string[] = [];
  const count = 1 + Math.floor(r() * 6);
  for (let i = 0; i < count; i++) {
    const roll = r();
    if (roll < 0.3) lines.push(`- ${tag()} ${id()}`);
    else if (roll < 0.5) lines.push(`- ${tag()}\n  id: ${id()}\n  annotations:\n    ${id()}: ${id()}`);
    else if (roll < 0.65) lines.push(`- !permit\n  role: ${tag()} ${id()}\n  privileges: [${id()}, read]\n  resource: ${tag()} ${id()}`);
    else if (roll < 0.75) lines.push(`- &a${i} [${Array(1 + Math.floor(r() * 10)).fill(i > 0 ? `*a${i - 1}` : "!variable x").join(", ")}]`);
    else if (roll < 0.85) lines.push(`- !policy\n  id: ${id()}\n  body:\n  - ${tag()} ${id()}\n  - *a${Math.floor(r() * 5)}`);
    else lines.push(randomText(r, 40));
  }
  return lines.join("\n") + "\n";
}
