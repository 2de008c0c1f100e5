/**
 * The client tier's plumbing: where each real client's build lives (harness/clients/build.sh), running
 * it as a process, and the tally behind the table the tier prints (client, version, checks passed/total).
 */
import { execFile, type ExecFileOptions } from "node:child_process";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as plainRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";

export const CACHE = process.env.STRONGROOM_CLIENTS_CACHE ?? join(homedir(), ".cache", "strongroom", "clients");
const BUILD = join(import.meta.dirname, "..", "..", "harness", "clients", "build.sh");

/** Pinned versions, as build.sh prints them. */
export const VERSIONS: Record<string, string> = Object.fromEntries(
  execFileSync("bash", [BUILD, "--versions"], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((line) => line.split(" ") as [string, string]),
);

/** The directory a client was built into, and why it is not there when it is not. */
export function built(dirName: string, file: string): { path: string; missing?: string } {
  const dir = join(CACHE, dirName);
  const path = join(dir, file);
  if (existsSync(path)) return { path };
  const reason = existsSync(join(dir, "NOT-BUILT"))
    ? readFileSync(join(dir, "NOT-BUILT"), "utf8").trim()
    : `not built (run harness/clients/build.sh)`;
  return { path, missing: reason };
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr, without the CLI's FIPS warning line. */
  out: string;
}

/** Runs a program with exactly the environment given (plus PATH), never the caller's CONJUR_* variables. */
export function run(
  file: string,
  args: string[],
  opts: { env?: Record<string, string>; input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const options: ExecFileOptions = {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...opts.env },
      timeout: opts.timeoutMs ?? 60_000,
      maxBuffer: 64 << 20,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    };
    const child = execFile(file, args, options, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      const clean = (s: string) =>
        s
          .split("\n")
          .filter((l) => !/Compliance with FIPS/.test(l))
          .join("\n");
      resolve({
        code,
        stdout: clean(String(stdout)),
        stderr: clean(String(stderr)),
        out: clean(`${String(stdout)}${String(stderr)}`).trim(),
      });
    });
    child.stdin?.end(opts.input ?? "");
  });
}

const tempDirs: string[] = [];

/** A temporary folder (a CLI user's HOME, a pod's files), removed when the tier ends. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `strongroom-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

// ---- the tally -----------------------------------------------------------------------------------

interface Row {
  client: string;
  version: string;
  passed: number;
  total: number;
  note: string;
  failures: string[];
}
const rows = new Map<string, Row>();
const order: string[] = [];

function row(client: string, version: string): Row {
  if (!rows.has(client)) {
    rows.set(client, { client, version, passed: 0, total: 0, note: "", failures: [] });
    order.push(client);
  }
  return rows.get(client)!;
}

/**
 * A describe block for one client: each `it` is one check in the table. `requires` names the binary it
 * needs; when that is missing the block is skipped and the table says why.
 */
export function clientSuite(
  client: string,
  version: string,
  requires: { path: string; missing?: string } | undefined,
  body: () => void,
): void {
  describe(`${client} ${version} (real client)`, function () {
    row(client, version);
    before(function () {
      if (requires?.missing) {
        row(client, version).note = requires.missing;
        this.skip();
      }
    });
    afterEach(function () {
      const test = this.currentTest;
      if (!test || test.state === "pending" || test.isPending()) return;
      const r = row(client, version);
      r.total += 1;
      if (test.state === "passed") r.passed += 1;
      else r.failures.push(test.title);
    });
    after(function () {
      // A failed before-all hook leaves its tests unrun: they count as failed checks, not as absent.
      if (requires?.missing) return;
      const r = row(client, version);
      for (const test of this.test?.parent?.tests ?? []) {
        if (test.state === undefined && !test.isPending()) {
          r.total += 1;
          r.failures.push(`${test.title} (not run: its set-up failed)`);
        }
      }
    });
    body();
  });
}

/** For a client whose own test suite is the check (conjur-api-go): counts from its runner. */
export function recordExternal(
  client: string,
  version: string,
  passed: number,
  total: number,
  note: string,
  failures: string[] = [],
): void {
  Object.assign(row(client, version), { passed, total, note, failures });
}

export function setNote(client: string, version: string, note: string): void {
  row(client, version).note = note;
}

export function table(): string {
  const lines = [["client", "version", "checks passed/total", "note"]];
  for (const client of order) {
    const r = rows.get(client)!;
    lines.push([r.client, r.version, r.total === 0 ? "—" : `${r.passed}/${r.total}`, r.note]);
  }
  const md = lines.map((cells) => `| ${cells.join(" | ")} |`);
  md.splice(1, 0, `| ${lines[0]!.map(() => "---").join(" | ")} |`);
  return md.join("\n");
}

export function failures(): string {
  return order.flatMap((c) => rows.get(c)!.failures.map((f) => `  ${c}: ${f}`)).join("\n");
}

export function totals(): { passed: number; failed: number } {
  let passed = 0;
  let failed = 0;
  for (const r of rows.values()) {
    passed += r.passed;
    failed += r.total - r.passed;
  }
  return { passed, failed };
}

// ---- JWTs as an issuer mints them ----------------------------------------------------------------

export interface Issuer {
  jwks: { keys: JWK[] };
  mint(claims: JWTPayload): Promise<string>;
}

export async function jwtIssuer(kid = "client-tier"): Promise<Issuer> {
  const { privateKey, publicKey }: { privateKey: CryptoKey; publicKey: CryptoKey } = await generateKeyPair("RS256", {
    extractable: true,
  });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  return {
    jwks: { keys: [jwk] },
    mint: (claims) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iat: now, exp: now + 600, ...claims })
        .setProtectedHeader({ alg: "RS256", kid })
        .sign(privateKey);
    },
  };
}

// ---- set-up through the REST API (what an operator's script does before the client runs) --------

export interface Admin {
  request(method: string, path: string, body?: string): Promise<{ status: number; text: string }>;
  loadPolicy(
    branch: string,
    yaml: string,
  ): Promise<{ created_roles: Record<string, { id: string; api_key: string }>; version: number }>;
  setSecret(id: string, value: string): Promise<void>;
  rotateApiKey(role: string): Promise<string>;
}

/** The admin of a test server, over http or https (trusting `ca`). */
export async function adminOf(server: { url: string; account: string; adminKey: string }, ca?: Buffer): Promise<Admin> {
  const httpRequest = server.url.startsWith("https") ? httpsRequest : plainRequest;
  const send = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(server.url + path, { method, headers, ...(ca ? { ca } : {}) }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      });
      req.on("error", reject);
      req.end(body);
    });
  const authn = await send("POST", `/authn/${server.account}/admin/authenticate`, server.adminKey, {
    "Accept-Encoding": "base64",
  });
  if (authn.status !== 200) throw new Error(`admin authenticate: ${authn.status}`);
  const auth = { Authorization: `Token token="${authn.text}"` };
  const must = async (what: string, res: Promise<{ status: number; text: string }>) => {
    const r = await res;
    if (r.status >= 300) throw new Error(`${what}: ${r.status} ${r.text}`);
    return r;
  };
  return {
    request: (method, path, body) => send(method, path, body, auth),
    loadPolicy: async (branch, yaml) =>
      JSON.parse(
        (
          await must(
            `load ${branch}`,
            send("POST", `/policies/${server.account}/policy/${encodeURIComponent(branch)}`, yaml, auth),
          )
        ).text,
      ),
    setSecret: async (id, value) =>
      void (await must(
        `set ${id}`,
        send("POST", `/secrets/${server.account}/variable/${encodeURIComponent(id)}`, value, auth),
      )),
    rotateApiKey: async (role) =>
      (
        await must(
          `rotate ${role}`,
          send(
            "PUT",
            `/authn/${server.account}/api_key?role=${encodeURIComponent(`${server.account}:${role.replace(":", ":")}`)}`,
            undefined,
            auth,
          ),
        )
      ).text,
  };
}
