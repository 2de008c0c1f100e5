/**
 * Every column that holds Aead ciphertext, with its primary key and how its AAD is built:
 * what `data-key rotate` walks. A test fails when a bytea column appears that is not listed
 * here (key_check is rewritten separately), so a new encrypted column cannot escape rotation.
 */
import { secretAad } from "../secrets/secret-rows.js";

export interface EncryptedColumn {
  /** What an operator reads in progress lines. */
  label: string;
  table: string;
  column: string;
  /** Primary key columns, in index order, with their Postgres types. */
  keys: readonly { name: string; type: string }[];
  /** The additional data the value was encrypted with, from the primary key values. */
  aad(key: readonly unknown[]): string;
}

export const ENCRYPTED_COLUMNS: readonly EncryptedColumn[] = [
  {
    label: "secret values",
    table: "secrets",
    column: "value",
    keys: [
      { name: "resource_id", type: "text" },
      { name: "version", type: "integer" },
    ],
    aad: ([id, version]) => secretAad(String(id), Number(version)),
  },
  {
    label: "API keys",
    table: "credentials",
    column: "api_key",
    keys: [{ name: "role_id", type: "text" }],
    aad: ([roleId]) => String(roleId),
  },
  {
    label: "password hashes",
    table: "credentials",
    column: "password_hash",
    keys: [{ name: "role_id", type: "text" }],
    aad: ([roleId]) => String(roleId),
  },
  {
    label: "token signing keys",
    table: "signing_keys",
    column: "key",
    keys: [{ name: "account", type: "text" }],
    aad: ([account]) => `authn:${String(account)}`,
  },
];
