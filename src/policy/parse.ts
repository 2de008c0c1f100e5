/**
 * Parses Conjur policy YAML into statements. We read the `yaml` package's document tree
 * rather than resolving tags to plain values so that every error can name its line and
 * column; tags are checked here against the policy language (unknown tag → error).
 * Anchors and aliases are followed; nested sequences in a body are flattened, as Conjur does.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLMap } from "yaml";
import { errors } from "../errors.js";
import { RECORD_TAGS, type Position, type Ref, type Statement } from "./statements.js";

const RECORD_FIELDS: Record<string, string[]> = {
  policy: ["id", "owner", "body", "annotations"],
  user: ["id", "owner", "annotations", "restricted_to", "public_keys", "uidnumber"],
  host: ["id", "owner", "annotations", "restricted_to"],
  group: ["id", "owner", "annotations", "gidnumber"],
  layer: ["id", "owner", "annotations"],
  variable: ["id", "owner", "annotations", "kind", "mime_type"],
  webservice: ["id", "owner", "annotations"],
};
const ANNOTATED_ATTRIBUTES: Record<string, string> = { kind: "conjur/kind", mime_type: "conjur/mime_type" };

class Parser {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  at(node: unknown): Position {
    const range = (node as Node | undefined)?.range;
    const { line, col } = this.lines.linePos(range ? range[0] : 0);
    return { line, column: col };
  }

  fail(node: unknown, message: string): never {
    throw errors.policyInvalid(message, this.at(node));
  }

  deref(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  scalarString(node: unknown, what: string): string {
    const n = this.deref(node);
    if (!isScalar(n)) return this.fail(n, `${what} must be a string`);
    const value = n.value;
    if (value === null || value === undefined) return "";
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
    return this.fail(n, `${what} must be a string`);
  }

  /** A tagged reference (`!group admins`, `!layer`) or a record node used as one. */
  ref(node: unknown, field: string): Ref {
    const n = this.deref(node) as Node | undefined;
    const kind = n?.tag ? RECORD_TAGS[n.tag] : undefined;
    if (!n || !kind) this.fail(n ?? node, `'${field}' must be a tagged reference such as !group name`);
    if (isScalar(n)) return { kind, id: this.scalarString(n, field), at: this.at(n) };
    if (isMap(n)) return { kind, id: n.has("id") ? this.scalarString(n.get("id", true), "id") : "", at: this.at(n) };
    return this.fail(n, `'${field}' must be a reference`);
  }

  /** One reference or a list of them (flattening nested lists from aliases). */
  refs(node: unknown, field: string): Ref[] {
    const n = this.deref(node);
    if (isSeq(n) && n.items.length === 0) this.fail(n, `'${field}' may not be empty`);
    if (isSeq(n)) return n.items.flatMap((item) => this.refs(item, field));
    return [this.ref(n, field)];
  }

  strings(node: unknown, field: string): string[] {
    const n = this.deref(node);
    if (isSeq(n)) {
      if (n.items.length === 0) this.fail(n, `'${field}' may not be empty`);
      return n.items.flatMap((item) => this.strings(item, field));
    }
    return [this.scalarString(n, field)];
  }

  /** Singular or plural key (`member`/`members`), exactly one of them. */
  either(map: YAMLMap, singular: string, plural: string): unknown {
    const value = map.get(singular, true) ?? map.get(plural, true);
    if (value === undefined) this.fail(map, `'${singular}' is required`);
    return value;
  }

  checkFields(map: YAMLMap, allowed: string[], tag: string): void {
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : "";
      if (!allowed.includes(key)) this.fail(pair.key, `unknown attribute '${key}' for ${tag}`);
    }
  }

  statements(node: unknown): Statement[] {
    const n = this.deref(node);
    if (n === null || n === undefined || (isScalar(n) && n.value === null)) return [];
    if (!isSeq(n)) this.fail(n, "a policy must be a list of records and statements");
    return n.items.flatMap((item) => {
      const d = this.deref(item);
      return isSeq(d) ? this.statements(d) : [this.statement(d)];
    });
  }

  statement(node: unknown): Statement {
    const n = node as Node;
    const tag = n?.tag;
    if (!tag) this.fail(n, "expected a tagged record or statement such as !variable or !permit");
    const kind = RECORD_TAGS[tag];
    if (kind) return this.record(n, kind, tag);
    if (!["!grant", "!revoke", "!permit", "!deny", "!delete"].includes(tag)) this.fail(n, `unknown tag ${tag}`);
    if (!isMap(n)) this.fail(n, `${tag} needs attributes`);
    const at = this.at(n);
    switch (tag) {
      case "!grant":
      case "!revoke":
        this.checkFields(n, ["role", "member", "members"], tag);
        return { type: tag === "!grant" ? "grant" : "revoke", role: this.ref(n.get("role", true), "role"), members: this.members(this.either(n, "member", "members")), at };
      case "!permit":
      case "!deny":
        this.checkFields(n, ["role", "roles", "privilege", "privileges", "resource", "resources"], tag);
        return {
          type: tag === "!permit" ? "permit" : "deny",
          roles: this.refs(this.either(n, "role", "roles"), "role"),
          privileges: this.strings(this.either(n, "privilege", "privileges"), "privilege").map((p) => p || this.fail(n, "privilege may not be blank")),
          resources: this.refs(this.either(n, "resource", "resources"), "resource"),
          at,
        };
      case "!delete":
        this.checkFields(n, ["record", "records"], tag);
        return { type: "delete", records: this.refs(this.either(n, "record", "records"), "record"), at };
      default:
        return this.fail(n, `unknown tag ${tag}`);
    }
  }

  members(node: unknown): { ref: Ref; admin: boolean }[] {
    const n = this.deref(node) as Node;
    if (isSeq(n)) return n.items.flatMap((item) => this.members(item));
    if (n?.tag === "!member") {
      if (!isMap(n)) this.fail(n, "!member needs 'role' and optional 'admin'");
      this.checkFields(n, ["role", "admin"], "!member");
      return [{ ref: this.ref(n.get("role", true), "role"), admin: n.get("admin") === true }];
    }
    return [{ ref: this.ref(n, "member"), admin: false }];
  }

  record(node: Node, kind: string, tag: string): Statement {
    const at = this.at(node);
    if (isScalar(node)) return { type: "record", kind, id: this.scalarString(node, "id"), annotations: {}, at };
    if (!isMap(node)) return this.fail(node, `${tag} must be a scalar id or a map of attributes`);
    this.checkFields(node, RECORD_FIELDS[kind]!, tag);
    const annotations: Record<string, string> = {};
    const raw = this.deref(node.get("annotations", true));
    if (raw !== undefined) {
      if (!isMap(raw)) this.fail(raw, "annotations must be a map");
      for (const pair of raw.items) annotations[this.scalarString(pair.key, "annotation name")] = this.scalarString(pair.value, "annotation value");
    }
    for (const [attribute, annotation] of Object.entries(ANNOTATED_ATTRIBUTES)) {
      if (node.has(attribute)) annotations[annotation] = this.scalarString(node.get(attribute, true), attribute);
    }
    const owner = node.get("owner", true);
    return {
      type: "record",
      kind,
      id: node.has("id") ? this.scalarString(node.get("id", true), "id") : "",
      ...(owner !== undefined ? { owner: this.ref(owner, "owner") } : {}),
      annotations,
      ...(kind === "policy" ? { body: this.statements(node.get("body", true)) } : {}),
      at,
    };
  }
}

export function parsePolicy(text: string): Statement[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem) {
    const { line, col } = lines.linePos(problem.pos[0]);
    throw errors.policyInvalid(problem.message.split("\n")[0]!, { line, column: col });
  }
  return new Parser(doc, lines).statements(doc.contents);
}
