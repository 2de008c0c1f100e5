/**
 * The bench's data set, shaped like a real install: 10 applications, each a nested policy
 * `apps/appN` holding a layer of 10 hosts, a `consumers` group the layer belongs to, and a
 * nested `secrets` policy of 100 variables the group may read and execute. An `ops` group
 * of 10 users is a member of every consumers group. 1,000 variables, 100 hosts in all.
 * A reading host's closure is host → layer → consumers group (and the policies' owners).
 */
export const APPS = 10;
export const HOSTS_PER_APP = 10;
export const VARIABLES_PER_APP = 100;

export function policyText(): string {
  const lines = ["- !group ops", ...Array.from({ length: 10 }, (_, i) => `- !user ops-${i}`)];
  lines.push(
    `- !grant { role: !group ops, members: [${Array.from({ length: 10 }, (_, i) => `!user ops-${i}`).join(", ")}] }`,
  );
  lines.push("- !policy", "  id: apps", "  body:");
  for (let a = 0; a < APPS; a++) {
    const hosts = Array.from({ length: HOSTS_PER_APP }, (_, h) => `!host host-${h}`);
    const vars = Array.from({ length: VARIABLES_PER_APP }, (_, v) => `!variable secrets/v${v}`);
    lines.push(
      "  - !policy",
      `    id: app${a}`,
      "    body:",
      "    - !layer hosts",
      "    - !group consumers",
      ...hosts.map((h) => `    - ${h}`),
      `    - !grant { role: !layer hosts, members: [${hosts.join(", ")}] }`,
      "    - !grant { role: !group consumers, member: !layer hosts }",
      "    - !grant { role: !group consumers, member: !group /ops }",
      "    - !policy",
      "      id: secrets",
      "      body:",
      ...Array.from({ length: VARIABLES_PER_APP }, (_, v) => `      - !variable v${v}`),
      `    - !permit { role: !group consumers, privileges: [read, execute], resources: [${vars.join(", ")}] }`,
    );
  }
  return lines.join("\n") + "\n";
}

export const variableId = (app: number, v: number): string => `apps/app${app}/secrets/v${v}`;
export const hostLogin = (app: number, h: number): string => `host/apps/app${app}/host-${h}`;

/** Loads the policy and a value for every variable, through the REST API, as a user would. */
export async function loadDataset(
  url: string,
  account: string,
  adminApiKey: string,
): Promise<{ adminToken: string; hostKeys: Map<string, string> }> {
  const adminToken = await authenticate(url, account, "admin", adminApiKey);
  const res = await fetch(`${url}/policies/${account}/policy/root`, {
    method: "POST",
    body: policyText(),
    headers: { authorization: `Token token="${adminToken}"` },
  });
  if (res.status !== 201) throw new Error(`policy load: HTTP ${res.status} ${await res.text()}`);
  const created = ((await res.json()) as { created_roles: Record<string, { id: string; api_key: string }> })
    .created_roles;
  const hostKeys = new Map(
    Object.values(created)
      .filter((r) => r.id.includes(":host:"))
      .map((r) => [`host/${r.id.split(":host:")[1]}`, r.api_key]),
  );
  const ids = Array.from({ length: APPS * VARIABLES_PER_APP }, (_, i) =>
    variableId(Math.floor(i / VARIABLES_PER_APP), i % VARIABLES_PER_APP),
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const r = await fetch(`${url}/secrets/${account}/variable/${encodeURIComponent(id)}`, {
          method: "POST",
          body: `value of ${id} ${"x".repeat(32)}`,
          headers: { authorization: `Token token="${adminToken}"` },
        });
        if (r.status !== 201) throw new Error(`set ${id}: HTTP ${r.status}`);
      }
    }),
  );
  return { adminToken, hostKeys };
}

/** Returns the token as the `Token token="…"` header wants it: base64 of the token JSON. */
export async function authenticate(url: string, account: string, login: string, apiKey: string): Promise<string> {
  const res = await fetch(`${url}/authn/${account}/${encodeURIComponent(login)}/authenticate`, {
    method: "POST",
    body: apiKey,
  });
  if (res.status !== 200) throw new Error(`authenticate ${login}: HTTP ${res.status}`);
  return Buffer.from(await res.text()).toString("base64");
}
