/** A small Conjur client over fetch, as a user of the API would write it. */
export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  bytes: Buffer;
  json(): any;
}

export class Client {
  token: string | undefined;
  constructor(
    readonly baseUrl: string,
    readonly account: string,
  ) {}

  async request(
    method: string,
    path: string,
    opts: { body?: string | Buffer; headers?: Record<string, string>; auth?: boolean } = {},
  ): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.auth !== false && this.token && !headers.Authorization)
      headers.Authorization = `Token token="${this.token}"`;
    const res = await fetch(this.baseUrl + path, {
      method,
      headers,
      ...(opts.body !== undefined
        ? { body: typeof opts.body === "string" ? opts.body : new Uint8Array(opts.body) }
        : {}),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString("utf8");
    return { status: res.status, headers: res.headers, text, bytes, json: () => JSON.parse(text) };
  }

  /** Authenticate `login` with `apiKey` and keep the base64 token for later requests. */
  async login(login: string, apiKey: string): Promise<this> {
    const res = await this.request("POST", `/authn/${this.account}/${encodeURIComponent(login)}/authenticate`, {
      body: apiKey,
      headers: { "Accept-Encoding": "base64" },
      auth: false,
    });
    if (res.status !== 200) throw new Error(`authenticate ${login}: ${res.status}`);
    this.token = res.text;
    return this;
  }

  loadPolicy(method: "POST" | "PATCH" | "PUT", policy: string, text: string): Promise<ApiResponse> {
    return this.request(method, `/policies/${this.account}/policy/${encodeURIComponent(policy)}`, { body: text });
  }

  setSecret(id: string, value: string | Buffer): Promise<ApiResponse> {
    return this.request("POST", `/secrets/${this.account}/variable/${encodeURIComponent(id)}`, { body: value });
  }

  getSecret(id: string, query = ""): Promise<ApiResponse> {
    return this.request("GET", `/secrets/${this.account}/variable/${encodeURIComponent(id)}${query}`);
  }

  batch(ids: string[], headers: Record<string, string> = {}): Promise<ApiResponse> {
    return this.request("GET", `/secrets?variable_ids=${encodeURIComponent(ids.join(","))}`, { headers });
  }
}

export function fq(account: string, id: string, kind = "variable"): string {
  return `${account}:${kind}:${id}`;
}
