/** The policy language after parsing: records and statements with their source lines. */
export const RECORD_TAGS: Record<string, string> = {
  "!policy": "policy",
  "!user": "user",
  "!host": "host",
  "!group": "group",
  "!layer": "layer",
  "!variable": "variable",
  "!webservice": "webservice",
  "!host-factory": "host_factory",
};
export const ROLE_RECORD_KINDS = new Set(["policy", "user", "host", "group", "layer", "host_factory"]);

export interface Position {
  line: number;
  column: number;
}

/** A reference to a role or resource as written: kind and (possibly relative) id. */
export interface Ref {
  kind: string;
  id: string;
  at: Position;
}

export interface RecordStatement {
  type: "record";
  kind: string;
  id: string;
  owner?: Ref;
  annotations: Record<string, string>;
  body?: Statement[];
  /** `restricted_to` on users and hosts: normalised CIDRs; undefined when not written. */
  restrictedTo?: string[];
  /** `public_keys` on users: `<algorithm> <base64> <name>` lines. */
  publicKeys?: string[];
  /** `layers` of a `!host-factory`. */
  layers?: Ref[];
  at: Position;
}

export interface GrantStatement {
  type: "grant" | "revoke";
  role: Ref;
  members: { ref: Ref; admin: boolean }[];
  at: Position;
}

export interface PermitStatement {
  type: "permit" | "deny";
  roles: Ref[];
  privileges: string[];
  resources: Ref[];
  at: Position;
}

export interface DeleteStatement {
  type: "delete";
  records: Ref[];
  at: Position;
}

export type Statement = RecordStatement | GrantStatement | PermitStatement | DeleteStatement;
