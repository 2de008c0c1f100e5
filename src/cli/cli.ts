/**
 * The `strongroom` command tree (commander), driven by the settings tables in config.ts: every
 * command and subcommand answers `--help` with exit 0; usage and configuration problems print
 * one line on stderr and exit 2; runtime failures one line and exit 1 (see main.ts).
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, type Command as CommandType } from "commander";
import {
  CLIENT_SETTINGS,
  ConfigError,
  ENVIRONMENT_ONLY,
  loadConfig,
  SETTINGS,
  STORAGE_SETTINGS,
  type Flags,
} from "../config.js";
import { addSettings, environmentHelp, flagsOf } from "./options.js";

// Commands load their modules when they run: `--help` and a usage error stay fast (no Express, pg, …).

const POLICY_METHODS = { load: "POST", update: "PATCH", replace: "PUT" } as const;
const ROTATE_DESCRIPTION =
  "Re-encrypts every secret value, API key, password hash and token-signing key under STRONGROOM_DATA_KEY (the new key), " +
  "reading old ones with STRONGROOM_PREVIOUS_DATA_KEYS. Servers keep serving (on embedded storage it uses the running " +
  `server's PostgreSQL); safe to interrupt and run again. See docs/operations.md, "Data-key rotation".`;

/** Every server setting but the one that only `data-key rotate` reads. */
export const SERVER_SETTINGS = Object.keys(SETTINGS).filter((key) => key !== "rotateBatchSize");
export const ROTATE_SETTINGS = [...STORAGE_SETTINGS, "previousDataKeys", "rotateBatchSize"];

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string })
      .version;
  } catch {
    return "unknown";
  }
}

/** A command whose options are settings of the server's table, and whose action gets the loaded Config. */
function withSettings(command: CommandType, keys: readonly string[]): CommandType {
  return addSettings(command, SETTINGS, keys);
}

const loaded = (command: CommandType, keys: readonly string[]) => loadConfig(flagsOf(command, SETTINGS, keys));
const clientFlags = (command: CommandType): Flags => flagsOf(command, CLIENT_SETTINGS);

export function buildProgram(done: (code: number) => void): Command {
  const program = new Command("strongroom")
    .description("Conjur-compatible secrets server with a Kubernetes operator and sidecar injector")
    .version(version(), "--version", "print the version")
    .helpOption("-h, --help", "show help for a command")
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .configureHelp({ sortSubcommands: false, sortOptions: false, showGlobalOptions: false })
    .helpCommand("help [command]", "show help for a command")
    .addHelpText(
      "after",
      "\nRun 'strongroom <command> --help' for a command's flags. Every flag has a\nSTRONGROOM_* environment twin; all of them: docs/configuration.md.",
    );

  withSettings(
    program.command("server").description("run the secrets server (REST API, optional webhook and controller)"),
    SERVER_SETTINGS,
  )
    .addHelpText("after", environmentHelp([ENVIRONMENT_ONLY.dataKey]))
    .action(async (_opts, command: CommandType) =>
      done(await (await import("./serve.js")).serve(loaded(command, SERVER_SETTINGS))),
    );

  const account = program
    .command("account")
    .description("create an account, or give its admin a new API key (create <name> | reset-admin <name>)");
  withSettings(
    account
      .command("create")
      .argument("<name>", "account name")
      .description("create an account and print its admin API key ('API key for admin: <key>'); exit 1 if it exists"),
    STORAGE_SETTINGS,
  )
    .addHelpText("after", environmentHelp([ENVIRONMENT_ONLY.dataKey]))
    .action(async (name: string, _opts, command: CommandType) =>
      done(await (await import("./account.js")).createAccountCommand(name, loaded(command, STORAGE_SETTINGS))),
    );
  withSettings(
    account
      .command("reset-admin")
      .argument("<name>", "account name")
      .description("give the account's admin a new API key and print it; the old key stops working"),
    STORAGE_SETTINGS,
  )
    .addHelpText("after", environmentHelp([ENVIRONMENT_ONLY.dataKey]))
    .action(async (name: string, _opts, command: CommandType) =>
      done(await (await import("./account.js")).resetAdminCommand(name, loaded(command, STORAGE_SETTINGS))),
    );

  const dataKey = program
    .command("data-key")
    .description("print a new data key, or re-encrypt everything under one (generate | rotate)");
  dataKey
    .command("generate")
    .description("print a new STRONGROOM_DATA_KEY (the base64 of 32 random bytes)")
    .action(async () => done((await import("./data-key.js")).generate()));
  withSettings(
    dataKey
      .command("rotate")
      .description(ROTATE_DESCRIPTION)
      .summary("re-encrypt everything under a new data key, while servers keep serving"),
    ROTATE_SETTINGS,
  )
    .addHelpText(
      "after",
      environmentHelp([{ env: ENVIRONMENT_ONLY.dataKey.env, help: "the new data key (base64 of 32 bytes)" }]),
    )
    .action(async (_opts, command: CommandType) =>
      done(await (await import("./data-key.js")).rotate(loaded(command, ROTATE_SETTINGS))),
    );

  const clientHelp = environmentHelp([ENVIRONMENT_ONLY.apiKey, ENVIRONMENT_ONLY.extraCa]);
  const policy = program
    .command("policy")
    .description("load a policy into a running server (load = POST, update = PATCH, replace = PUT)");
  for (const [verb, method] of Object.entries(POLICY_METHODS)) {
    addSettings(
      policy
        .command(verb)
        .argument("<file>", "policy YAML")
        .description(`${verb} a policy (${method} /policies/<account>/policy/<branch>)`)
        .option("--branch <id>", "policy to load into (default: root)"),
      CLIENT_SETTINGS,
    )
      .addHelpText("after", clientHelp)
      .action(async (file: string, opts: { branch?: string }, command: CommandType) =>
        done(await (await import("./remote.js")).loadPolicy(method, file, opts.branch, clientFlags(command))),
      );
  }

  const secret = program
    .command("secret")
    .description("set or get a variable's value on a running server (set <id> [value] | get <id>)");
  addSettings(
    secret
      .command("set")
      .argument("<id>", "variable id")
      .argument("[value]", "the value (default: read from stdin)")
      .description("add a value to a variable"),
    CLIENT_SETTINGS,
  )
    .addHelpText("after", clientHelp)
    .action(async (id: string, value: string | undefined, _opts, command: CommandType) =>
      done(await (await import("./remote.js")).setSecret(id, value, clientFlags(command))),
    );
  addSettings(
    secret
      .command("get")
      .argument("<id>", "variable id")
      .description("print a variable's value")
      .option("--version <n>", "that version (default: the latest)"),
    CLIENT_SETTINGS,
  )
    .addHelpText("after", clientHelp)
    .action(async (id: string, opts: { version?: string }, command: CommandType) =>
      done(await (await import("./remote.js")).getSecret(id, opts.version, clientFlags(command))),
    );

  // The agent parses its own settings table (src/agent/agent-config.ts): hand it the raw arguments.
  program
    .command("agent")
    .description("the in-pod agent: write rendered files, follow rotations (--once: write and exit)")
    .argument("[flags...]")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .action(async (args: string[]) => done(await (await import("../agent/agent-command.js")).agentCommand(args)));

  return program;
}

/** Exit code for commander's own outcomes: help asked for is 0, any other usage problem 2. */
function commanderExit(err: CommanderError): number {
  if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return 0;
  if (err.code === "commander.help") return err.exitCode === 0 ? 0 : 2; // `help`, or a command group without its subcommand (help on stderr)
  const message = err.message.replace(/^error:\s*/, "").replace(/\s*\n\s*/g, " ");
  throw new ConfigError(`${message} (try --help)`);
}

/** Parse and run; resolves to the exit code, or -1 when the command keeps running (server, agent). */
export async function runCli(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) return commanderExit(err);
    throw err;
  }
  return code;
}
