/**
 * Client commands for operators, against a running server:
 *   strongroom policy load|update|replace [--branch ID] FILE   (POST | PATCH | PUT)
 *   strongroom secret set ID [VALUE]   (VALUE omitted: read from stdin)
 *   strongroom secret get ID [--version N]
 */
import { readFile } from "node:fs/promises";
import { ConfigError, loadClientConfig, type ClientConfig, type Flags } from "../config.js";

class RemoteError extends Error {}

async function call(
  config: ClientConfig,
  method: string,
  path: string,
  body?: Buffer | string,
  token?: string,
): Promise<Response> {
  const headers: Record<string, string> = token ? { Authorization: `Token token="${token}"` } : {};
  let res: Response;
  try {
    res = await fetch(config.url + path, {
      method,
      headers,
      ...(body !== undefined ? { body: typeof body === "string" ? body : new Uint8Array(body) } : {}),
    });
  } catch (err) {
    throw new RemoteError(
      `cannot reach ${config.url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`,
    );
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
  const res = await call(
    config,
    "POST",
    `/authn/${encodeURIComponent(config.account)}/${encodeURIComponent(config.login)}/authenticate`,
    config.apiKey,
  );
  return Buffer.from(await res.text()).toString("base64");
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function loadPolicy(
  method: string,
  file: string,
  branch: string | undefined,
  flags: Flags,
): Promise<number> {
  const config = loadClientConfig(flags);
  const text = await readFile(file).catch((err: Error) => {
    throw new ConfigError(`cannot read ${file}: ${err.message}`);
  });
  const token = await authenticate(config);
  const res = await call(
    config,
    method,
    `/policies/${encodeURIComponent(config.account)}/policy/${encodeURIComponent(branch ?? "root")}`,
    text,
    token,
  );
  process.stdout.write(JSON.stringify(await res.json(), null, 2) + "\n");
  return 0;
}

export async function setSecret(id: string, value: string | undefined, flags: Flags): Promise<number> {
  const config = loadClientConfig(flags);
  const token = await authenticate(config);
  await call(
    config,
    "POST",
    secretPath(config, id),
    value !== undefined ? Buffer.from(value) : await readStdin(),
    token,
  );
  process.stderr.write(`Value added to ${config.account}:variable:${id}\n`);
  return 0;
}

export async function getSecret(id: string, version: string | undefined, flags: Flags): Promise<number> {
  const config = loadClientConfig(flags);
  const token = await authenticate(config);
  const query = version !== undefined ? `?version=${encodeURIComponent(version)}` : "";
  const res = await call(config, "GET", secretPath(config, id) + query, undefined, token);
  process.stdout.write(Buffer.from(await res.arrayBuffer()));
  return 0;
}

const secretPath = (config: ClientConfig, id: string): string =>
  `/secrets/${encodeURIComponent(config.account)}/variable/${encodeURIComponent(id)}`;
