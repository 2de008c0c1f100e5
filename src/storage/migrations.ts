/**
 * Versioned schema migrations, applied at start. A transaction-scoped advisory lock makes
 * two replicas starting at once safe: the second waits, then finds nothing left to do.
 * Ids are Conjur's fully qualified `account:kind:identifier` strings throughout.
 */
import type { Pool } from "pg";
import { inTransaction } from "./transaction.js";

export const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: "rbac, credentials, secrets, policies",
    sql: `
CREATE TABLE accounts (
  name text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- Token-signing keys, AES-GCM encrypted with AAD 'authn:<account>'.
CREATE TABLE signing_keys (
  account text PRIMARY KEY REFERENCES accounts(name) ON DELETE CASCADE,
  key bytea NOT NULL,
  fingerprint text NOT NULL
);
CREATE TABLE roles (
  role_id text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  policy_id text
);
CREATE TABLE resources (
  resource_id text PRIMARY KEY,
  owner_id text NOT NULL REFERENCES roles(role_id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  created_at timestamptz NOT NULL DEFAULT now(),
  policy_id text REFERENCES resources(resource_id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
ALTER TABLE roles ADD FOREIGN KEY (policy_id) REFERENCES resources(resource_id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX resources_owner ON resources(owner_id);
CREATE INDEX resources_policy ON resources(policy_id);
CREATE TABLE role_memberships (
  role_id text NOT NULL REFERENCES roles(role_id) ON DELETE CASCADE,
  member_id text NOT NULL REFERENCES roles(role_id) ON DELETE CASCADE,
  admin_option boolean NOT NULL DEFAULT false,
  ownership boolean NOT NULL DEFAULT false,
  policy_id text REFERENCES resources(resource_id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  PRIMARY KEY (role_id, member_id)
);
CREATE INDEX role_memberships_member ON role_memberships(member_id);
CREATE TABLE permissions (
  privilege text NOT NULL,
  resource_id text NOT NULL REFERENCES resources(resource_id) ON DELETE CASCADE,
  role_id text NOT NULL REFERENCES roles(role_id) ON DELETE CASCADE,
  policy_id text REFERENCES resources(resource_id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  PRIMARY KEY (resource_id, role_id, privilege)
);
CREATE INDEX permissions_role ON permissions(role_id);
CREATE TABLE annotations (
  resource_id text NOT NULL REFERENCES resources(resource_id) ON DELETE CASCADE,
  name text NOT NULL,
  value text NOT NULL,
  policy_id text REFERENCES resources(resource_id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  PRIMARY KEY (resource_id, name)
);
-- API key and password hash, AES-GCM encrypted with AAD = role id.
CREATE TABLE credentials (
  role_id text PRIMARY KEY REFERENCES roles(role_id) ON DELETE CASCADE,
  api_key bytea NOT NULL,
  password_hash bytea,
  rotated_at timestamptz NOT NULL DEFAULT now()
);
-- Secret values, AES-GCM encrypted with AAD = resource id.
CREATE TABLE secrets (
  resource_id text NOT NULL REFERENCES resources(resource_id) ON DELETE CASCADE,
  version integer NOT NULL,
  value bytea NOT NULL,
  expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (resource_id, version)
);
CREATE TABLE policy_versions (
  resource_id text NOT NULL REFERENCES resources(resource_id) ON DELETE CASCADE,
  version integer NOT NULL,
  role_id text NOT NULL,
  policy_text text NOT NULL,
  policy_sha256 text NOT NULL,
  client_ip text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (resource_id, version)
);
-- Rows loaded by a policy point at it (policy_id); deleting a policy deletes them.
-- FKs are deferred so one policy load may insert records in document order.
-- One row proving which data key this database was written with.
CREATE TABLE key_check (
  id integer PRIMARY KEY CHECK (id = 1),
  blob bytea NOT NULL
);
`,
  },
  {
    version: 2,
    name: "data key versions",
    sql: `
-- Which data key a ciphertext's leading version byte names, so that every process agrees.
-- fingerprint = HMAC-SHA256(key, label): identifies a key without revealing it.
CREATE TABLE data_keys (
  version smallint PRIMARY KEY CHECK (version BETWEEN 1 AND 255),
  fingerprint text NOT NULL UNIQUE,
  added_at timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    version: 3,
    name: "restricted_to, host factory tokens",
    sql: `
-- Users' and hosts' restricted_to: normalised CIDRs ('10.0.0.0/24'); empty = from anywhere.
ALTER TABLE roles ADD COLUMN restricted_to text[] NOT NULL DEFAULT '{}';
-- Host factory tokens: only their SHA-256 (hex) is kept; a token is 256 random bits, so
-- a fast hash suffices, and a database dump reveals no usable token.
CREATE TABLE host_factory_tokens (
  token_sha256 text PRIMARY KEY,
  resource_id text NOT NULL REFERENCES resources(resource_id) ON DELETE CASCADE,
  expiration timestamptz NOT NULL,
  cidr text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX host_factory_tokens_resource ON host_factory_tokens(resource_id);
`,
  },
  {
    version: 4,
    name: "membership version (role closure cache)",
    sql: `
-- Changes whenever role_memberships changes, in the same transaction: a reader that finds
-- the version it cached a role's closure under knows the closure is exact for its snapshot
-- (docs/adr/0016-read-path.md). Random, not a counter: equal only if truly unchanged, even
-- across databases or after a restore.
CREATE TABLE membership_version (
  id integer PRIMARY KEY CHECK (id = 1),
  version uuid NOT NULL
);
INSERT INTO membership_version VALUES (1, gen_random_uuid());
-- Deferred to commit and done once per transaction, so concurrent writers hold the row
-- lock only while committing.
CREATE FUNCTION bump_membership_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('strongroom.membership_bumped', true) IS DISTINCT FROM 'yes' THEN
    PERFORM set_config('strongroom.membership_bumped', 'yes', true);
    UPDATE membership_version SET version = gen_random_uuid();
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER role_memberships_changed AFTER INSERT OR UPDATE OR DELETE ON role_memberships
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_membership_version();
CREATE TRIGGER role_memberships_truncated AFTER TRUNCATE ON role_memberships
  FOR EACH STATEMENT EXECUTE FUNCTION bump_membership_version();
`,
  },
  {
    version: 5,
    name: "authenticator configs (PATCH /authn-jwt/{service_id}/{account})",
    sql: `
-- Conjur's authenticator_configs: an authenticator enabled through the API, besides the
-- server's --authenticators list (enabled = list ∪ rows with enabled = true).
CREATE TABLE authenticator_configs (
  resource_id text PRIMARY KEY REFERENCES resources(resource_id) ON DELETE CASCADE,
  enabled boolean NOT NULL
);
`,
  },
  {
    version: 6,
    name: "authorization version (read decisions cache)",
    sql: `
-- The membership version becomes the authorization version: it changes whenever anything a
-- read's authorization depends on changes (memberships, permissions, resources and their
-- owners, annotations such as conjur/mime_type), in the same transaction. A replica that
-- cached "role R may read variable V" under this version knows the decision is exact for
-- any statement that sees the same version (docs/adr/0020-read-decisions.md).
ALTER TABLE membership_version RENAME TO authorization_version;
-- For replicas still running the previous release during a rolling upgrade (they read it).
CREATE VIEW membership_version AS SELECT id, version FROM authorization_version;
DROP TRIGGER role_memberships_changed ON role_memberships;
DROP TRIGGER role_memberships_truncated ON role_memberships;
DROP FUNCTION bump_membership_version();
-- Deferred to commit and done once per transaction, so concurrent writers hold the row
-- lock only while committing.
CREATE FUNCTION bump_authorization_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('strongroom.authorization_bumped', true) IS DISTINCT FROM 'yes' THEN
    PERFORM set_config('strongroom.authorization_bumped', 'yes', true);
    UPDATE authorization_version SET version = gen_random_uuid();
  END IF;
  RETURN NULL;
END $$;
${["role_memberships", "permissions", "resources", "annotations"]
  .map(
    (table) => `CREATE CONSTRAINT TRIGGER ${table}_changed AFTER INSERT OR UPDATE OR DELETE ON ${table}
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_authorization_version();
CREATE TRIGGER ${table}_truncated AFTER TRUNCATE ON ${table}
  FOR EACH STATEMENT EXECUTE FUNCTION bump_authorization_version();`,
  )
  .join("\n")}
`,
  },
];

const LOCK_KEY = 7_310_241; // arbitrary, constant: "strongroom migrations"

export async function migrate(pool: Pool): Promise<number[]> {
  return inTransaction(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const done = new Set(
      (await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((r) => r.version),
    );
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}
