/**
 * `strongroom account reset-admin NAME`: a new API key for the account's admin user, printed
 * as `API key for admin: <key>`; the old key stops working. The recovery for a lost admin key,
 * run wherever the data key and database are reachable (in the chart: `kubectl exec` into a
 * Strongroom pod, whose environment already names both).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { resetAdminKey } from "../accounts/accounts.js";
import { helpFor, loadConfig, parseFlags, validateAccountName, type Config } from "../config.js";
import { createLogger } from "../telemetry/logger.js";
import { openStorage } from "./storage.js";

/**
 * The URL of an embedded Postgres already running on this data dir (a live server owns it):
 * connect to it rather than start a second postmaster on the same files, which would fail.
 */
export function runningEmbeddedUrl(dataDir: string): string | undefined {
  const pidFile = join(dataDir, "pg", "postmaster.pid");
  const passwordFile = join(dataDir, "pg-password");
  if (!existsSync(pidFile) || !existsSync(passwordFile)) return undefined;
  const [pidLine, , , portLine] = readFileSync(pidFile, "utf8").split("\n");
  const pid = Number(pidLine);
  const port = Number(portLine);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return undefined; // not running
  }
  const password = readFileSync(passwordFile, "utf8").trim();
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/strongroom`;
}

export async function resetAdmin(argv: string[], storageFlags: string[]): Promise<number> {
  const { flags, positionals } = parseFlags(argv, storageFlags);
  if (flags.help || positionals.length !== 1) {
    const usage = `Usage: strongroom account reset-admin NAME [flags]\n\nGives the admin user of account NAME a new API key and prints it; the old key stops working.\n\n${helpFor(storageFlags)}\n  STRONGROOM_DATA_KEY        base64 of 32 bytes`;
    (flags.help ? process.stdout : process.stderr).write(usage + "\n");
    return flags.help ? 0 : 2;
  }
  const name = validateAccountName(positionals[0]!);
  let config: Config = loadConfig(flags);
  const live = config.databaseUrl ? undefined : runningEmbeddedUrl(config.dataDir);
  if (live) config = Object.freeze({ ...config, databaseUrl: live });
  const log = createLogger(config.logLevel, process.stderr);
  const { db, aead } = await openStorage(config, log);
  try {
    const key = await resetAdminKey(db.pool, aead, name);
    process.stderr.write(`Reset the admin API key of account '${name}'\n`);
    process.stdout.write(`API key for admin: ${key}\n`);
    return 0;
  } finally {
    await db.close();
  }
}
