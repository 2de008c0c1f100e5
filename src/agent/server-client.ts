/**
 * The agent's side of the REST API: login with the service-account token (authn-kubernetes or
 * authn-jwt), one batch read, the change stream.
 * node:http(s) rather than fetch so that a private CA can be trusted per client. Tokens
 * never appear in errors or logs.
 */
import http from "node:http";
import https from "node:https";
import { readFile } from "node:fs/promises";

/** A non-2xx answer: `status` 401/403/404 are denials (the policy says no), 5xx and network errors are outages. */
export class ServerError extends Error {
  constructor(
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
  }
  get denial(): boolean {
    return this.status === 401 || this.status === 403 || this.status === 404 || this.status === 422;
  }
}

/** The service-account token file cannot be read: a deployment problem, not a server outage. */
export class TokenFileError extends Error {}

export interface ClientOptions {
  url: string;
  account: string;
  /** `authn-kubernetes` or `authn-jwt/<service-id>`. */
  authenticator: string;
  login: string | undefined;
  tokenFile: string;
  ca?: Buffer;
  /** Re-authenticate after this long (the server's token lives 8 minutes by default). */
  tokenMaxAgeMs?: number;
}

interface Answer {
  status: number;
  body: Buffer;
}

/** The longest stream line the agent reads (a real one is about 100 bytes). */
const STREAM_LINE_BYTES = 64 * 1024;

export class ServerClient {
  #token: { value: string; at: number } | undefined;
  readonly #agent: http.Agent;
  /** Jittered (75–100 % of the option) so that a fleet started together logs in at different times. */
  readonly #tokenMaxAgeMs: number;

  constructor(
    private readonly options: ClientOptions,
    private readonly now: () => number = Date.now,
    random: () => number = Math.random,
  ) {
    this.#agent = options.url.startsWith("https:")
      ? new https.Agent({ keepAlive: true, ca: options.ca })
      : new http.Agent({ keepAlive: true });
    this.#tokenMaxAgeMs = (options.tokenMaxAgeMs ?? 4 * 60_000) * (1 - random() / 4);
  }

  #send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: string,
    timeoutMs = 15_000,
  ): Promise<Answer> {
    const url = new URL(this.options.url + path);
    const transport = url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(url, { method, headers, agent: this.#agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on("error", (err) => reject(new ServerError(undefined, `${method} ${url.pathname}: ${err.message}`)));
      });
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", (err) =>
        reject(
          new ServerError(
            undefined,
            `${method} ${url.pathname}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
          ),
        ),
      );
      req.end(body);
    });
  }

  async #authenticate(): Promise<string> {
    const { account, authenticator, login, tokenFile } = this.options;
    let jwt: string;
    try {
      jwt = (await readFile(tokenFile, "utf8")).trim();
    } catch (err) {
      // Not a ServerError: a missing or unreadable token is no outage, so `--once` fails at once, saying so.
      const code = (err as NodeJS.ErrnoException).code ?? "error";
      throw new TokenFileError(
        `cannot read the service-account token file ${tokenFile} (${code}); mount the projected token there or set --token-file (STRONGROOM_TOKEN_FILE)`,
      );
    }
    const hostPart = login ? `/${encodeURIComponent(login)}` : "";
    // authn-jwt/<service> → /authn-jwt/<service>/<account>/…; authn-kubernetes → /authn-kubernetes/<account>/…
    const base = authenticator.split("/").map(encodeURIComponent).join("/");
    const path = `/${base}/${encodeURIComponent(account)}${hostPart}/authenticate`;
    const res = await this.#send(
      "POST",
      path,
      { "Content-Type": "application/x-www-form-urlencoded", "Accept-Encoding": "base64" },
      `jwt=${encodeURIComponent(jwt)}`,
    );
    if (res.status !== 200) {
      const who = login ?? "the token's identity";
      const hint =
        authenticator === "authn-kubernetes"
          ? "check that the host exists (and, for strongroom.io/host, its kubernetes/* annotations) and the server's --kubernetes-issuer/--kubernetes-audience"
          : "check the service's issuer/JWKS/audience and that the host may authenticate";
      throw new ServerError(res.status, `${authenticator} refused ${who} (HTTP ${res.status}): ${hint}`);
    }
    this.#token = { value: res.body.toString("utf8").trim(), at: this.now() };
    return this.#token.value;
  }

  async #currentToken(): Promise<string> {
    const fresh = this.#token && this.now() - this.#token.at < this.#tokenMaxAgeMs;
    return fresh ? this.#token!.value : this.#authenticate();
  }

  async #authorized(
    method: string,
    path: string,
    headers: Record<string, string>,
    timeoutMs?: number,
  ): Promise<Answer> {
    const token = await this.#currentToken();
    let res = await this.#send(
      method,
      path,
      { ...headers, Authorization: `Token token="${token}"` },
      undefined,
      timeoutMs,
    );
    if (res.status === 401) {
      // Expired or revoked: one fresh login, then the answer stands.
      res = await this.#send(
        method,
        path,
        { ...headers, Authorization: `Token token="${await this.#authenticate()}"` },
        undefined,
        timeoutMs,
      );
    }
    return res;
  }

  #fullIds(ids: readonly string[]): string {
    return ids.map((id) => encodeURIComponent(`${this.options.account}:variable:${id}`)).join(",");
  }

  /** All values in one request, base64 on the wire (binary-safe). Keyed by the ids as given. */
  async fetchBatch(ids: readonly string[]): Promise<Map<string, Buffer>> {
    const res = await this.#authorized("GET", `/secrets?variable_ids=${this.#fullIds(ids)}`, {
      "Accept-Encoding": "base64",
    });
    if (res.status !== 200)
      throw new ServerError(
        res.status,
        `batch read of ${ids.length} variables refused (HTTP ${res.status}${errorMessage(res.body)})`,
      );
    const body = JSON.parse(res.body.toString("utf8")) as Record<string, string>;
    const prefix = `${this.options.account}:variable:`;
    return new Map(
      Object.entries(body).map(([fullId, b64]) => [fullId.slice(prefix.length), Buffer.from(b64, "base64")]),
    );
  }

  /** The change stream: at once without a cursor or with a stale one, else on a change or after `timeoutSeconds`. */
  async watch(
    ids: readonly string[],
    cursor: string | undefined,
    timeoutSeconds: number,
  ): Promise<{ changed: boolean; cursor: string }> {
    const query = `variable_ids=${this.#fullIds(ids)}&timeout=${timeoutSeconds}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res = await this.#authorized("GET", `/secrets/watch?${query}`, {}, (timeoutSeconds + 15) * 1000);
    if (res.status !== 200)
      throw new ServerError(res.status, `watch refused (HTTP ${res.status}${errorMessage(res.body)})`);
    return JSON.parse(res.body.toString("utf8")) as { changed: boolean; cursor: string };
  }

  /**
   * The change stream as one response (`stream=true`): `onEvent` for each answer, in order
   * (the response is not read while it runs). Resolves when the server ends the stream (the
   * token expired) or when this client's token is due for renewal (it ends the stream
   * itself, so that the next one carries a fresh token); throws ServerError otherwise.
   */
  async follow(
    ids: readonly string[],
    cursor: string | undefined,
    timeoutSeconds: number,
    onEvent: (answer: { changed: boolean; cursor: string }) => Promise<void>,
  ): Promise<void> {
    const since = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const query = `variable_ids=${this.#fullIds(ids)}&timeout=${timeoutSeconds}&stream=true${since}`;
    const idleMs = (timeoutSeconds + 15) * 1000; // heartbeats come every timeoutSeconds
    let res = await this.#open(`/secrets/watch?${query}`, await this.#currentToken(), idleMs);
    if (res.statusCode === 401) {
      res.resume();
      res = await this.#open(`/secrets/watch?${query}`, await this.#authenticate(), idleMs);
    }
    if (res.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      throw new ServerError(
        res.statusCode,
        `watch refused (HTTP ${res.statusCode}${errorMessage(Buffer.concat(chunks))})`,
      );
    }
    const renewIn = this.#token ? Math.max(0, this.#token.at + this.#tokenMaxAgeMs - this.now()) : 0;
    let renewing = false;
    const renew = setTimeout(() => ((renewing = true), res.destroy()), renewIn);
    let pending = "";
    let handlerError: unknown;
    try {
      for await (const chunk of res) {
        pending += (chunk as Buffer).toString("utf8");
        // A line is about 100 bytes: a server that sends more without one is not followed.
        if (pending.length > STREAM_LINE_BYTES && !pending.includes("\n"))
          throw new ServerError(undefined, "watch stream: a line longer than 64 KiB");
        for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n")) {
          const line = pending.slice(0, end);
          pending = pending.slice(end + 1);
          const answer = JSON.parse(line) as { changed: unknown; cursor: unknown };
          if (typeof answer.changed !== "boolean" || typeof answer.cursor !== "string")
            throw new ServerError(undefined, "watch stream: a line is not {changed, cursor}");
          await onEvent(answer as { changed: boolean; cursor: string }).catch((err: unknown) => {
            handlerError = err;
            throw err;
          });
        }
      }
    } catch (err) {
      if (err === handlerError || err instanceof ServerError || !(err instanceof Error)) throw err;
      if (renewing) return;
      if (err instanceof SyntaxError) throw new ServerError(undefined, "watch stream: a line is not JSON");
      throw new ServerError(undefined, `watch stream: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
    } finally {
      clearTimeout(renew);
    }
  }

  #open(path: string, token: string, idleMs: number): Promise<http.IncomingMessage> {
    const url = new URL(this.options.url + path);
    const transport = url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const headers = { Authorization: `Token token="${token}"` };
      const req = transport.request(url, { headers, agent: this.#agent, timeout: idleMs }, resolve);
      req.on("timeout", () => req.destroy(new Error("no heartbeat: timed out")));
      req.on("error", (err) =>
        reject(
          new ServerError(undefined, `GET ${url.pathname}: ${(err as NodeJS.ErrnoException).code ?? err.message}`),
        ),
      );
      req.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** The server's JSON error message (it names ids, never values). */
function errorMessage(body: Buffer): string {
  try {
    const message = (JSON.parse(body.toString("utf8")) as { error?: { message?: string } }).error?.message;
    return message ? `: ${message.slice(0, 300)}` : "";
  } catch {
    return "";
  }
}
