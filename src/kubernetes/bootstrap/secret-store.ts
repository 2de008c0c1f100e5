/**
 * The server's own Secrets in its namespace (data key, webhook TLS, initial admin key), behind
 * a three-verb interface so the logic is testable without Kubernetes. The rule that makes it
 * safe with several replicas and with GitOps: a Secret is created only when absent, and a
 * creator that loses the race (409) adopts what the winner wrote. Nothing here overwrites a
 * data key or a CA.
 */

export type SecretData = Record<string, Buffer>;

export interface SecretStore {
  /** undefined when the Secret does not exist. */
  read(name: string): Promise<SecretData | undefined>;
  /** false when a Secret of that name already exists (HTTP 409). */
  create(name: string, data: SecretData, meta: SecretMeta): Promise<boolean>;
  /** Replace the data of an existing Secret. Used only for the initial-admin Secret. */
  replace(name: string, data: SecretData, meta: SecretMeta): Promise<void>;
}

export interface SecretMeta {
  type?: string;
  /** What the Secret is, for `kubectl get secret -l app.kubernetes.io/component=…`. */
  component: string;
  annotations?: Record<string, string>;
}

export class BootstrapError extends Error {}
/** Something the server needs is not there yet (another object of the release); worth a retry. */
export class NotReadyError extends BootstrapError {}

/**
 * Returns the Secret's data, creating it from `make()` when absent. `valid` checks a Secret we
 * did not write (an older one, or a racing replica's); an invalid one is an error, never
 * replaced, because replacing a data key or CA others already use loses data or trust.
 */
export async function ensureSecret(
  store: SecretStore,
  name: string,
  meta: SecretMeta,
  make: () => SecretData | Promise<SecretData>,
  valid: (data: SecretData) => string | undefined,
): Promise<{ data: SecretData; created: boolean }> {
  const check = (data: SecretData): SecretData => {
    const problem = valid(data);
    if (problem)
      throw new BootstrapError(`Secret ${name} exists but ${problem}; fix or delete it (it is never overwritten)`);
    return data;
  };
  const existing = await store.read(name);
  if (existing) return { data: check(existing), created: false };
  const fresh = await make();
  if (await store.create(name, fresh, meta)) return { data: fresh, created: true };
  // Another replica created it between our read and our create: use theirs.
  const winner = await store.read(name);
  if (!winner) throw new BootstrapError(`Secret ${name} was reported to exist but could not be read`);
  return { data: check(winner), created: false };
}
