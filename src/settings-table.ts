/**
 * The machinery behind every settings table (the server's in config.ts, the agent's in
 * agent/agent-config.ts): a flag and a STRONGROOM_* environment twin per setting, flags
 * win, friendly one-line errors.
 */
import { parseArgs } from "node:util";

/** A problem with flags or environment: the CLI prints its message on one line and exits 2. */
export class ConfigError extends Error {}

/** One setting: its flag, its environment twin, and its documented default. */
export interface Setting {
  flag: string;
  env: string;
  type: "string" | "boolean";
  help: string;
  default?: string;
}

export type Flags = Record<string, string | boolean | undefined>;

/** Parse argv against a settings table (plus `--help`); unknown flags are a ConfigError. */
export function parseFlagsOf(
  table: Record<string, Setting>,
  argv: string[],
  only: string[] = Object.keys(table),
  allowPositionals = true,
): { flags: Flags; positionals: string[] } {
  const options: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
  for (const key of only) {
    const s = table[key]!;
    options[s.flag] = { type: s.type };
  }
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals, strict: true });
    return { flags: parsed.values, positionals: parsed.positionals };
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** One setting's help text: meaning, default, environment twin (the CLI's --help and docs/configuration.md). */
export function describeSetting(s: Setting): string {
  const dflt = s.default ? `default: ${s.default}, ` : "";
  return `${s.help} (${dflt}env: ${s.env})`;
}

/** `--help` lines for a settings table: flag, then its text, aligned, two spaces apart at least. */
export function helpOf(table: Record<string, Setting>, only: string[] = Object.keys(table)): string {
  const terms = only.map((key) => `  --${table[key]!.flag}${table[key]!.type === "string" ? " <value>" : ""}`);
  const width = Math.max(...terms.map((term) => term.length)) + 2;
  return only.map((key, i) => terms[i]!.padEnd(width) + describeSetting(table[key]!)).join("\n");
}

/** A setting's value: the flag, else its environment twin, else the table's default. */
export function readSetting(
  table: Record<string, Setting>,
  key: string,
  flags: Flags,
  env: NodeJS.ProcessEnv,
): string | boolean | undefined {
  const s = table[key]!;
  const fromFlag = flags[s.flag];
  if (fromFlag !== undefined) return fromFlag;
  const fromEnv = env[s.env];
  if (fromEnv !== undefined && fromEnv !== "") return s.type === "boolean" ? /^(1|true|yes)$/i.test(fromEnv) : fromEnv;
  return s.default;
}

/** An integer setting within [min, max], or a ConfigError naming the flag. */
export function boundedSetting(setting: Setting, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new ConfigError(`--${setting.flag} must be an integer from ${min} to ${max}, got '${value}'`);
  }
  return Number(value);
}
