/**
 * One real PostgreSQL for the whole suite: the same embedded cluster the product uses,
 * in a temporary folder. Each test file gets a database of its own from `freshDatabase()`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../../src/storage/embedded.js";

let cluster: EmbeddedDatabase | undefined;
let dir: string | undefined;
let counter = 0;

export async function startTestPostgres(): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), "strongroom-test-"));
  cluster = await startEmbeddedPostgres(dir, () => undefined);
}

export async function stopTestPostgres(): Promise<void> {
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** A new empty database on the shared cluster; returns its URL. */
export async function freshDatabase(): Promise<string> {
  if (!cluster) throw new Error("test Postgres is not running");
  const name = `t${process.pid}_${++counter}`;
  const client = new pg.Client({ connectionString: cluster.url });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  return cluster.url.replace(/\/strongroom$/, `/${name}`);
}
