/**
 * Rails-style parameters for the controllers that read them from the query string and the
 * body alike (host factories, accounts): a form body (`a=1&cidr[]=x&annotations[k]=v`, what
 * every official client sends) or a JSON object. Values are bounded: a parameter may repeat
 * at most MAX_VALUES times, a hash may hold at most MAX_VALUES keys.
 */
import type { Request } from "express";
import { errors } from "../errors.js";
import { LIMITS } from "../input/limits.js";
import { rawBody } from "./params.js";

const MAX_VALUES = 100;

export class RequestParams {
  readonly #pairs: [string, unknown][] = [];

  constructor(req: Request) {
    for (const [key, value] of Object.entries(req.query as Record<string, unknown>)) {
      for (const v of [value].flat()) this.#pairs.push([key, v]);
    }
    const body = rawBody(req);
    if (body.length === 0) return;
    const type = (req.get("content-type") ?? "").toLowerCase();
    if (type.includes("json")) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString("utf8"));
      } catch {
        throw errors.badRequest("the request body is not valid JSON");
      }
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
        for (const [key, value] of Object.entries(parsed)) {
          if (Array.isArray(value)) for (const v of value) this.#pairs.push([key, v]);
          else this.#pairs.push([key, value]);
        }
      }
    } else {
      for (const [key, value] of new URLSearchParams(body.toString("utf8"))) this.#pairs.push([key, value]);
    }
    if (this.#pairs.length > LIMITS.queryParameters + MAX_VALUES * 2)
      throw errors.argument(`a request may carry at most ${LIMITS.queryParameters + MAX_VALUES * 2} parameters`);
    if (this.#pairs.some(([k, v]) => k.includes("\0") || (typeof v === "string" && v.includes("\0"))))
      throw errors.argument("parameters may not contain NUL bytes");
  }

  /** The first value of `name` as a string (numbers and booleans from JSON as their text). */
  one(name: string): string | undefined {
    const found = this.#pairs.find(([k, v]) => k === name && isScalar(v));
    return found ? String(found[1]) : undefined;
  }

  /** Every value of `name`, `name[]` or `name[n]` (a JSON array counts too). */
  list(name: string): string[] {
    const values = this.#pairs
      .filter(([k, v]) => (k === name || k === `${name}[]` || new RegExp(`^${name}\\[\\d+\\]$`).test(k)) && isScalar(v))
      .map(([, v]) => String(v));
    if (values.length > MAX_VALUES) throw errors.argument(`'${name}' may have at most ${MAX_VALUES} values`);
    return values;
  }

  /** `name[key]=value` pairs, or a JSON object under `name`. */
  hash(name: string): Record<string, string> {
    const out: Record<string, string> = {};
    const prefix = `${name}[`;
    for (const [k, v] of this.#pairs) {
      if (k.startsWith(prefix) && k.endsWith("]") && isScalar(v)) out[k.slice(prefix.length, -1)] = String(v);
      else if (k === name && v && typeof v === "object" && !Array.isArray(v)) {
        for (const [key, value] of Object.entries(v)) if (isScalar(value)) out[key] = String(value);
      }
    }
    if (Object.keys(out).length > MAX_VALUES) throw errors.argument(`'${name}' may have at most ${MAX_VALUES} entries`);
    return out;
  }
}

const isScalar = (v: unknown): v is string | number | boolean =>
  typeof v === "string" || typeof v === "number" || typeof v === "boolean";
