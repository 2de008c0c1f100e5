/**
 * Client commands for operators, against a running server:
 *   strongroom policy load|update|replace [--branch ID] FILE   (POST | PATCH | PUT)
 *   strongroom secret set ID [VALUE]   (VALUE omitted: read from stdin)
 *   strongroom secret get ID [--version N]
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { CLIENT_HELP, ConfigError, loadClientConfig, type ClientConfig } from "../config.js";

const CLIENT_OPTIONS = { url: { type: "string" }, account: { type: "string" }, login: { type: "string" }, help: { type: "boolean" } } as const;

class RemoteError extends Error {}

async function call(config: ClientConfig, method: string, path: string, body?: Buffer | string, token?: string): Promise<Response> {
  const headers: Record<string, string> = token ? { Authorization: `Token token="${token}"` } : {};
  let res: Response;
  try {
    res = await fetch(config.url + path, { method, headers, ...(body !== undefined ? { body: typeof body === "string" ? body : new Uint8Array(body) } : {}) });
  } catch (err) {
    throw new RemoteError(`cannot reach ${config.url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
  if (res.status >= 400) {
    const text = await res.text();
    let message = text;
    try {
      message = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      /* not a JSON error body */
    }
    throw new RemoteError(`${method} ${path}: ${res.status}${message ? ` ${message}` : ""}`);
  }
  return res;
}

async function authenticate(config: ClientConfig): Promise<string> {
  const res = await call(config, "POST", `/authn/${encodeURIComponent(config.account)}/${encodeURIComponent(config.login)}/authenticate`, config.apiKey);
  return Buffer.from(await res.text()).toString("base64");
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const METHODS: Record<string, string> = { load: "POST", update: "PATCH", replace: "PUT" };

export async function policyCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, { ...CLIENT_OPTIONS, branch: { type: "string" } });
  const method = METHODS[sub ?? ""];
  if (values.help || sub === "--help" || !method) {
    return usage(`Usage: strongroom policy load|update|replace [--branch ID] FILE\n\n  load = POST (append), update = PATCH, replace = PUT\n  --branch ID               policy to load into (default root)\n${CLIENT_HELP}`, Boolean(values.help) || sub === "--help");
  }
  if (positionals.length !== 1) throw new ConfigError("policy needs exactly one FILE");
  const config = loadClientConfig(values);
  const text = await readFile(positionals[0]!).catch((err: Error) => {
    throw new ConfigError(`cannot read ${positionals[0]}: ${err.message}`);
  });
  const token = await authenticate(config);
  const branch = typeof values.branch === "string" ? values.branch : "root";
  const res = await call(config, method, `/policies/${encodeURIComponent(config.account)}/policy/${encodeURIComponent(branch)}`, text, token);
  process.stdout.write(JSON.stringify(await res.json(), null, 2) + "\n");
  return 0;
}

export async function secretCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, { ...CLIENT_OPTIONS, version: { type: "string" } });
  if (values.help || (sub !== "set" && sub !== "get")) {
    return usage(`Usage: strongroom secret set ID [VALUE]    (VALUE omitted: read from stdin)\n       strongroom secret get ID [--version N]\n\n${CLIENT_HELP}`, Boolean(values.help) || sub === "--help");
  }
  const id = positionals[0];
  if (!id) throw new ConfigError(`secret ${sub} needs a variable ID`);
  const config = loadClientConfig(values);
  const token = await authenticate(config);
  const path = `/secrets/${encodeURIComponent(config.account)}/variable/${encodeURIComponent(id)}`;
  if (sub === "set") {
    const value = positionals.length > 1 ? Buffer.from(positionals[1]!) : await readStdin();
    await call(config, "POST", path, value, token);
    process.stderr.write(`Value added to ${config.account}:variable:${id}\n`);
    return 0;
  }
  const version = typeof values.version === "string" ? `?version=${encodeURIComponent(values.version)}` : "";
  const res = await call(config, "GET", path + version, undefined, token);
  process.stdout.write(Buffer.from(await res.arrayBuffer()));
  return 0;
}

function parse(args: string[], options: Record<string, { type: "string" | "boolean" }>): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: parsed.values, positionals: parsed.positionals };
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

function usage(text: string, asked: boolean): number {
  (asked ? process.stdout : process.stderr).write(text + "\n");
  return asked ? 0 : 2;
}

