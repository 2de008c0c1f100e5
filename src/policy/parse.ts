/**
 * Parses Conjur policy YAML into statements. We read the `yaml` package's document tree
 * rather than resolving tags to plain values so that every error can name its line and
 * column; tags are checked here against the policy language (unknown tag → error).
 * Anchors and aliases are followed; nested sequences in a body are flattened, as Conjur does.
 *
 * Hostile documents are bounded here: every node visited counts against LIMITS.policyNodes
 * (an alias counts each time it is followed, so an alias bomb stops early), nesting against
 * LIMITS.policyDepth, and every stored string against its byte limit. Aliases are resolved
 * through a map built in one pass (the `yaml` package's own `resolve` scans the whole
 * document per alias). Run it through parse-off-thread.ts: big documents take seconds.
 */
import {
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Alias,
  type Document,
  type Node,
  type YAMLMap,
} from "yaml";
import { errors } from "../errors.js";
import { LIMITS, storableProblem } from "../input/limits.js";
import { normalizeCidr } from "../authn/cidr.js";
import { RECORD_TAGS, type Position, type Ref, type Statement } from "./statements.js";

const RECORD_FIELDS: Record<string, string[]> = {
  policy: ["id", "owner", "body", "annotations"],
  user: ["id", "owner", "annotations", "restricted_to", "public_keys", "public_key", "uidnumber"],
  host: ["id", "owner", "annotations", "restricted_to"],
  group: ["id", "owner", "annotations", "gidnumber"],
  layer: ["id", "owner", "annotations"],
  variable: ["id", "owner", "annotations", "kind", "mime_type"],
  webservice: ["id", "owner", "annotations"],
  host_factory: ["id", "owner", "annotations", "layers", "role"],
};
const ANNOTATED_ATTRIBUTES: Record<string, string> = { kind: "conjur/kind", mime_type: "conjur/mime_type" };
/** Integer attributes Conjur keeps as annotations; an explicit annotation of the same name wins. */
const NUMBER_ATTRIBUTES: Record<string, string> = { uidnumber: "conjur/uidnumber", gidnumber: "conjur/gidnumber" };

const PUBLIC_KEYS_PER_USER = 100;

/** For each alias, the last node before it carrying its anchor (YAML's rule). */
function aliasTargets(doc: Document): Map<Alias, Node | undefined> {
  const anchors = new Map<string, Node>();
  const targets = new Map<Alias, Node | undefined>();
  visit(doc, {
    Node: (_key, node) => {
      if (isAlias(node)) targets.set(node, anchors.get(node.source));
      else if (isNode(node) && node.anchor) anchors.set(node.anchor, node);
    },
  });
  return targets;
}

class Parser {
  #visited = 0;
  #depth = 0;
  readonly #targets: Map<Alias, Node | undefined>;

  constructor(
    doc: Document,
    private readonly lines: LineCounter,
  ) {
    this.#targets = aliasTargets(doc);
  }

  at(node: unknown): Position {
    const range = (node as Node | undefined)?.range;
    const { line, col } = this.lines.linePos(range ? range[0] : 0);
    return { line, column: col };
  }

  fail(node: unknown, message: string): never {
    throw errors.policyInvalid(message, this.at(node));
  }

  deref(node: unknown): unknown {
    if (++this.#visited > LIMITS.policyNodes)
      this.fail(node, `the policy is too large or its aliases expand too far (more than ${LIMITS.policyNodes} nodes)`);
    if (!isAlias(node)) return node;
    const target = this.#targets.get(node);
    if (!target) this.fail(node, `unknown alias *${node.source}`);
    return target;
  }

  /** Recursion through nested lists and bodies, bounded (a self-referencing alias would never end). */
  nested<T>(node: unknown, work: () => T): T {
    if (++this.#depth > LIMITS.policyDepth)
      this.fail(node, `the policy is nested more than ${LIMITS.policyDepth} levels deep`);
    try {
      return work();
    } finally {
      this.#depth--;
    }
  }

  /** A string that will be stored: no NUL, within its byte limit. */
  stored(node: unknown, what: string, maxBytes: number): string {
    const value = this.scalarString(node, what);
    const problem = storableProblem(value, maxBytes);
    if (problem) this.fail(node, `${what} ${problem}`);
    return value;
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
    if (isScalar(n)) return { kind, id: this.stored(n, field, LIMITS.identifierBytes), at: this.at(n) };
    if (isMap(n))
      return {
        kind,
        id: n.has("id") ? this.stored(n.get("id", true), "id", LIMITS.identifierBytes) : "",
        at: this.at(n),
      };
    return this.fail(n, `'${field}' must be a reference`);
  }

  /** One reference or a list of them (flattening nested lists from aliases). */
  refs(node: unknown, field: string): Ref[] {
    const n = this.deref(node);
    if (isSeq(n) && n.items.length === 0) this.fail(n, `'${field}' may not be empty`);
    if (isSeq(n)) return this.nested(n, () => n.items.flatMap((item) => this.refs(item, field)));
    return [this.ref(n, field)];
  }

  strings(node: unknown, field: string): string[] {
    const n = this.deref(node);
    if (isSeq(n)) {
      if (n.items.length === 0) this.fail(n, `'${field}' may not be empty`);
      return this.nested(n, () => n.items.flatMap((item) => this.strings(item, field)));
    }
    return [this.stored(n, field, LIMITS.wordBytes)];
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
    return this.nested(n, () =>
      n.items.flatMap((item) => {
        const d = this.deref(item);
        if (isSeq(d)) return this.statements(d);
        return [this.statement(d)];
      }),
    );
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
        return {
          type: tag === "!grant" ? "grant" : "revoke",
          role: this.ref(n.get("role", true), "role"),
          members: this.members(this.either(n, "member", "members")),
          at,
        };
      case "!permit":
      case "!deny":
        this.checkFields(n, ["role", "roles", "privilege", "privileges", "resource", "resources"], tag);
        return {
          type: tag === "!permit" ? "permit" : "deny",
          roles: this.refs(this.either(n, "role", "roles"), "role"),
          privileges: this.strings(this.either(n, "privilege", "privileges"), "privilege").map(
            (p) => p || this.fail(n, "privilege may not be blank"),
          ),
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

  /** `restricted_to`: one IP/CIDR or a list, normalised (`10.0.0.1` → `10.0.0.1/32`). */
  cidrs(node: unknown): string[] {
    const n = this.deref(node);
    if (isSeq(n) && n.items.length === 0) return [];
    return [
      ...new Set(
        this.strings(n, "restricted_to").map((text) => {
          const parsed = normalizeCidr(text);
          return "cidr" in parsed ? parsed.cidr : this.fail(n, parsed.error);
        }),
      ),
    ];
  }

  /** `public_keys`: each exactly `<algorithm> <base64> <name>`. */
  publicKeys(node: unknown): string[] {
    const n = this.deref(node);
    if (isSeq(n) && n.items.length === 0) return [];
    const items = isSeq(n) ? n.items : [n];
    if (items.length > PUBLIC_KEYS_PER_USER)
      this.fail(n, `a user may have at most ${PUBLIC_KEYS_PER_USER} public keys`);
    return items.map((item) => {
      const key = this.stored(item, "public key", LIMITS.annotationValueBytes).trim();
      return /^\S+ \S+ \S+$/.test(key) ? key : this.fail(item, "Invalid public key format");
    });
  }

  members(node: unknown): { ref: Ref; admin: boolean }[] {
    const n = this.deref(node) as Node;
    if (isSeq(n)) return this.nested(n, () => n.items.flatMap((item) => this.members(item)));
    if (n?.tag === "!member") {
      if (!isMap(n)) this.fail(n, "!member needs 'role' and optional 'admin'");
      this.checkFields(n, ["role", "admin"], "!member");
      return [{ ref: this.ref(n.get("role", true), "role"), admin: n.get("admin") === true }];
    }
    return [{ ref: this.ref(n, "member"), admin: false }];
  }

  record(node: Node, kind: string, tag: string): Statement {
    const at = this.at(node);
    if (isScalar(node) && kind === "host_factory")
      this.fail(node, `Host factory '${this.scalarString(node, "id")}' does not include any layers`);
    if (isScalar(node))
      return { type: "record", kind, id: this.stored(node, "id", LIMITS.identifierBytes), annotations: {}, at };
    if (!isMap(node)) return this.fail(node, `${tag} must be a scalar id or a map of attributes`);
    this.checkFields(node, RECORD_FIELDS[kind]!, tag);
    const annotations: Record<string, string> = {};
    const raw = this.deref(node.get("annotations", true));
    if (raw !== undefined) {
      if (!isMap(raw)) this.fail(raw, "annotations must be a map");
      for (const pair of raw.items) {
        annotations[this.stored(pair.key, "annotation name", LIMITS.annotationNameBytes)] = this.stored(
          pair.value,
          "annotation value",
          LIMITS.annotationValueBytes,
        );
      }
    }
    for (const [attribute, annotation] of Object.entries(ANNOTATED_ATTRIBUTES)) {
      if (node.has(attribute))
        annotations[annotation] = this.stored(node.get(attribute, true), attribute, LIMITS.annotationValueBytes);
    }
    for (const [attribute, annotation] of Object.entries(NUMBER_ATTRIBUTES)) {
      if (!node.has(attribute)) continue;
      const value = this.stored(node.get(attribute, true), attribute, LIMITS.wordBytes);
      if (!/^-?\d{1,15}$/.test(value)) this.fail(node.get(attribute, true), `${attribute} must be an integer`);
      annotations[annotation] ??= String(Number(value));
    }
    const owner = node.get("owner", true);
    if (node.has("role")) this.ref(node.get("role", true), "role");
    return {
      type: "record",
      kind,
      id: node.has("id") ? this.stored(node.get("id", true), "id", LIMITS.identifierBytes) : "",
      ...(owner !== undefined ? { owner: this.ref(owner, "owner") } : {}),
      annotations,
      ...(node.has("restricted_to") ? { restrictedTo: this.cidrs(node.get("restricted_to", true)) } : {}),
      ...(node.has("public_keys") || node.has("public_key")
        ? { publicKeys: this.publicKeys(node.get("public_keys", true) ?? node.get("public_key", true)) }
        : {}),
      ...(kind === "host_factory"
        ? {
            layers: this.refs(
              node.get("layers", true) ??
                this.fail(
                  node,
                  `Host factory '${this.scalarString(node.get("id", true), "id")}' does not include any layers`,
                ),
              "layers",
            ),
          }
        : {}),
      ...(kind === "policy" ? { body: this.nested(node, () => this.statements(node.get("body", true))) } : {}),
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
