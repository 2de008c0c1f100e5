/**
 * The one file-name rule, for every file Strongroom writes: pod annotations (secret-mode
 * Secret keys and agent files), SecretBinding items and the agent's `--files`. It is the
 * intersection of what each consumer accepts, so the webhook refuses at admission what would
 * fail later: a Secret key is `[-._a-zA-Z0-9]{1,253}`; the kubelet refuses projected paths
 * starting with `..` (its own `..data` symlink lives there); the agent refuses hidden files
 * (a leading `.`) so no written file can be mistaken for, or collide with, that machinery.
 */
const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,252}$/;

export function isFileName(name: string): boolean {
  return FILE_NAME.test(name);
}

/** A one-line explanation for a name that breaks the rule (shown quoted and shortened). */
export function fileNameProblem(name: string): string | undefined {
  if (isFileName(name)) return undefined;
  const shown = name.length > 60 ? `${name.slice(0, 60)}…` : name;
  return `'${shown}' is not a valid file name (1–253 letters, digits, '.', '_', '-'; not starting with '.')`;
}
