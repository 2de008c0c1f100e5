/** Reading path and query parameters the way Conjur's routes do. */
import type { Request } from "express";
import { errors } from "../errors.js";

/** A `*identifier` wildcard arrives as decoded segments; `%2F` and literal `/` both work. */
export function identifierOf(req: Request, name = "identifier"): string {
  const value = req.params[name];
  return Array.isArray(value) ? value.join("/") : (value ?? "");
}

export function accountOf(req: Request): string {
  const account = req.params.account as string;
  if (account.includes("/")) throw errors.routeNotFound(req.method, req.path);
  return account;
}

/** A query value as one string; a repeated parameter takes its first value. */
export function queryString(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (Array.isArray(value)) return typeof value[0] === "string" ? value[0] : undefined;
  return typeof value === "string" ? value : undefined;
}

/** A parameter Rails reads as a value or a list: `name=a`, `name=a&name=b` or `name[]=a&name[]=b`. */
export function queryList(req: Request, name: string): string[] | undefined {
  const values = [req.query[name], req.query[`${name}[]`]].flat().filter((v): v is string => typeof v === "string");
  return values.length || hasQuery(req, name) || hasQuery(req, `${name}[]`) ? values : undefined;
}

export const hasQuery = (req: Request, name: string): boolean => req.query[name] !== undefined;

export const isTrue = (req: Request, name: string): boolean =>
  hasQuery(req, name) && queryString(req, name) !== "false";

export function rawBody(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** Conjur's `Accept-Encoding` rule for authenticate: `base64` among the comma-separated items. */
export function acceptsBase64Item(req: Request): boolean {
  return (req.get("accept-encoding") ?? "").split(",").some((item) => item.trim().toLowerCase() === "base64");
}

/** Conjur's rule for batch retrieval: the whole header equals `base64`, any case. */
export function acceptsBase64Exactly(req: Request): boolean {
  return (req.get("accept-encoding") ?? "").trim().toLowerCase() === "base64";
}
