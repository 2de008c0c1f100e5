/**
 * Conjur's claim paths: `sub`, `kubernetes.io/namespace`, `a/b/c`. A path is looked up
 * first as a literal top-level key (`"a/b/c"`), then as nested objects
 * (`token.a.b.c`). Array indexes are not paths.
 */
import { CLAIM_PATH_SOURCE } from "./failures.js";

const CLAIM_PATH = new RegExp(CLAIM_PATH_SOURCE);

/** Longest claim path we look at; real ones are a few dozen characters. */
const MAX_CLAIM_PATH = 1024;

export function isValidClaimPath(path: string): boolean {
  return path.length <= MAX_CLAIM_PATH && CLAIM_PATH.test(path);
}

export type Claims = Record<string, unknown>;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The claim at `path`, or undefined. Own properties only: `__proto__` and friends are not claims. */
export function claimAt(claims: Claims, path: string): unknown {
  if (Object.hasOwn(claims, path) && claims[path] !== null) return claims[path];
  let node: unknown = claims;
  for (const part of path.split("/")) {
    if (!isObject(node) || !Object.hasOwn(node, part)) return undefined;
    node = node[part];
  }
  return node === null ? undefined : node;
}

/** Ruby's `blank?`: nil, false, empty or whitespace-only strings, empty arrays and objects. */
export function isBlank(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return true;
  if (typeof value === "string") return value.trim() === "";
  if (Array.isArray(value)) return value.length === 0;
  if (isObject(value)) return Object.keys(value).length === 0;
  return false;
}

/** Ruby's class name of a JSON value, for CONJ00118E. */
export function rubyTypeOf(value: unknown): string {
  if (Array.isArray(value)) return "Array";
  if (isObject(value)) return "Hash";
  if (typeof value === "number") return Number.isInteger(value) ? "Integer" : "Float";
  if (value === true) return "TrueClass";
  if (value === false) return "FalseClass";
  return "String";
}

/** Ruby's `File.join`: one `/` between parts, duplicate slashes at the seams collapse. */
export function joinPath(...parts: string[]): string {
  return parts.reduce((joined, part) => `${joined.replace(/\/+$/, "")}/${part.replace(/^\/+/, "")}`);
}
