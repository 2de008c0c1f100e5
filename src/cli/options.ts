/**
 * The settings tables as commander options: every flag, its help and its environment twin come
 * from one table (config.ts), so `--help`, parsing and docs/configuration.md cannot disagree.
 * Commander only parses flags; defaults and env twins are applied by loadConfig (flags win).
 */
import { Option, type Command } from "commander";
import { describeSetting, type Flags, type Setting } from "../settings-table.js";

/** Environment variables without a flag, listed under a command's help. */
export interface EnvironmentOnly {
  env: string;
  help: string;
}

/** Add a table's settings (those named in `keys`) to a command as options. */
export function addSettings(
  command: Command,
  table: Record<string, Setting>,
  keys: readonly string[] = Object.keys(table),
): Command {
  for (const key of keys) {
    const s = table[key]!;
    command.addOption(new Option(`--${s.flag}${s.type === "string" ? " <value>" : ""}`, describeSetting(s)));
  }
  return command;
}

/** What commander parsed, keyed by flag name as loadConfig reads it (absent = not given). */
export function flagsOf(
  command: Command,
  table: Record<string, Setting>,
  keys: readonly string[] = Object.keys(table),
): Flags {
  const parsed = command.opts<Record<string, string | boolean | undefined>>();
  const flags: Flags = {};
  for (const key of keys) {
    const s = table[key]!;
    const option = command.options.find((o) => o.long === `--${s.flag}`);
    const value = option ? parsed[option.attributeName()] : undefined;
    if (value !== undefined) flags[s.flag] = value;
  }
  return flags;
}

/** Lines for environment variables that have no flag, aligned like the options above them. */
export function environmentHelp(entries: readonly EnvironmentOnly[]): string {
  if (entries.length === 0) return "";
  const width = Math.max(...entries.map((e) => e.env.length)) + 4;
  return "\nEnvironment:\n" + entries.map((e) => `  ${e.env}`.padEnd(width) + e.help).join("\n");
}
