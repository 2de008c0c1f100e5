/** The policy language after parsing: records and statements with their source lines. */
export const RECORD_TAGS: Record<string, string> = {
  "!policy": "policy",
  "!user": "user",
  "!host": "host",
  "!group": "group",
  "!layer": "layer",
  "!variable": "variable",
  "!webservice": "webservice",
};
export const ROLE_RECORD_KINDS = new Set(["policy", "user", "host", "group", "layer"]);

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
