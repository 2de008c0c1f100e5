/**
 * `strongroom account create NAME` and `strongroom account reset-admin NAME`: each prints
 * `API key for admin: <key>` on stdout (as `conjurctl account create` does). Both run wherever
 * the data key and database are reachable, beside a running server too: on embedded storage
 * they use that server's PostgreSQL. reset-admin is the recovery for a lost admin key (in the
 * chart: `kubectl exec` into a Strongroom pod, whose environment already names both).
 */
import { accountExists, AccountExistsError, createAccount, resetAdminKey } from "../accounts/accounts.js";
import { validateAccountName, type Config } from "../config.js";
import { createLogger } from "../telemetry/logger.js";
import { openStorage } from "./storage.js";

async function withStorage(
  config: Config,
  work: (storage: Awaited<ReturnType<typeof openStorage>>) => Promise<number>,
): Promise<number> {
  const log = createLogger(config.logLevel, process.stderr);
  const storage = await openStorage(config, log, { attach: true });
  try {
    return await work(storage);
  } finally {
    await storage.db.close();
  }
}

export function createAccountCommand(nameArg: string, config: Config): Promise<number> {
  const name = validateAccountName(nameArg);
  return withStorage(config, async ({ db, aead }) => {
    if (await accountExists(db.pool, name)) throw new AccountExistsError(`account '${name}' already exists`);
    const key = await createAccount(db.pool, aead, name);
    process.stderr.write(`Created new account '${name}'\n`);
    process.stdout.write(`API key for admin: ${key}\n`);
    return 0;
  });
}

export function resetAdminCommand(nameArg: string, config: Config): Promise<number> {
  const name = validateAccountName(nameArg);
  return withStorage(config, async ({ db, aead }) => {
    const key = await resetAdminKey(db.pool, aead, name);
    process.stderr.write(`Reset the admin API key of account '${name}'\n`);
    process.stdout.write(`API key for admin: ${key}\n`);
    return 0;
  });
}
