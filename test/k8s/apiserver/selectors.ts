/** Label and field selectors as the API server accepts them. */
import { StatusError, type KubeObject } from "./types.js";

type Requirement = (labels: Record<string, string>) => boolean;

/** Split on commas that are not inside parentheses. */
function terms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of selector) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(current.trim());
      current = "";
    } else current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

function requirement(term: string): Requirement {
  let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (m) {
    const values = m[3]!.split(",").map((v) => v.trim());
    const key = m[1]!;
    return m[2] === "in"
      ? (l) => key in l && values.includes(l[key]!)
      : (l) => !(key in l) || !values.includes(l[key]!);
  }
  m = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/.exec(term);
  if (m) {
    const [, key, op, value] = m;
    return op === "!=" ? (l) => l[key!] !== value : (l) => l[key!] === value;
  }
  m = /^(!?)([\w./-]+)$/.exec(term);
  if (m) return m[1] ? (l) => !(m[2]! in l) : (l) => m[2]! in l;
  throw new StatusError(400, "BadRequest", `unable to parse requirement: ${term}`);
}

export function labelMatcher(selector: string | null): (obj: KubeObject) => boolean {
  if (!selector) return () => true;
  const reqs = terms(selector).map(requirement);
  return (obj) => reqs.every((r) => r(obj.metadata.labels ?? {}));
}

function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split("."))
    cur = cur && typeof cur === "object" ? (cur as Record<string, unknown>)[part] : undefined;
  return typeof cur === "string" || typeof cur === "number" || typeof cur === "boolean" ? String(cur) : "";
}

export function fieldMatcher(selector: string | null): (obj: KubeObject) => boolean {
  if (!selector) return () => true;
  const reqs = terms(selector).map((term) => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new StatusError(400, "BadRequest", `invalid field selector: ${term}`);
    const [, path, op, value] = m;
    return (obj: KubeObject) => (fieldValue(obj, path!) === value) === (op !== "!=");
  });
  return (obj) => reqs.every((r) => r(obj));
}
