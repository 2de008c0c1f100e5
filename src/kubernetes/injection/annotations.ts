/**
 * The pod annotations under `strongroom.io/`, parsed and validated in one place for the
 * webhook (which rejects bad ones) and the controller (which resolves good ones).
 */
export const PREFIX = "strongroom.io/";
export const MANAGED_LABEL = `${PREFIX}managed`;
/** Written by the webhook: the name of the Secret the pod's volume projects. */
export const SECRET_NAME_ANNOTATION = `${PREFIX}secret-name`;
/** Written by the controller after a rotation (the Secret's resourceVersion), so the kubelet re-syncs the volume at once. */
export const SECRET_VERSION_ANNOTATION = `${PREFIX}secret-version`;
export const VOLUME_NAME = "strongroom-secrets";
export const DEFAULT_MOUNT_PATH = "/var/run/secrets/strongroom";
export const DEFAULT_REFRESH_MS = 5 * 60_000;

import { fileNameProblem } from "../../render/file-name.js";
import { FILE_KEYS, parseRenderedFiles, type RenderedFiles } from "./file-annotations.js";
import { envKeyCollisions, envSecretKey } from "./secret-layout.js";

const USER_KEYS = new Set(["inject", "host", "mount-path", "refresh-interval", "containers", "binding", "inject-mode"]);
const OWN_KEYS = new Set(["secret-name", "secret-version"]);
const DNS_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface InjectionSpec {
  /** file name → variable identifier (relative to the account) */
  files: Record<string, string>;
  host: string | undefined;
  mountPath: string;
  refreshMs: number;
  containers: string[] | undefined;
  binding: string | undefined;
  /** Mode, every file (single-variable and rendered) and env (issue 11). */
  rendered: RenderedFiles;
}

export function wantsInjection(annotations: Record<string, string> | undefined): boolean {
  return annotations?.[`${PREFIX}inject`] === "true";
}

/** Go-style durations as Kubernetes users write them: 30s, 5m, 1h30m, 500ms. */
export function parseDuration(text: string): number | undefined {
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h)/g)];
  if (!parts.length || parts.map((p) => p[0]).join("") !== text) return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2]!]!, 0);
}

/** Parses the annotations; returns the problems instead when there are any. */
export function parseInjection(annotations: Record<string, string>): InjectionSpec | { problems: string[] } {
  const problems: string[] = [];
  const files: Record<string, string> = {};
  for (const [key, value] of Object.entries(annotations)) {
    if (!key.startsWith(PREFIX)) continue;
    const name = key.slice(PREFIX.length);
    if (name.startsWith("secret.")) {
      const file = name.slice("secret.".length);
      const problem = fileNameProblem(file);
      if (problem) problems.push(`'${key}': ${problem}`);
      else if (!value.trim()) problems.push(`'${key}' names no variable`);
      else files[file] = value.trim();
    } else if (name.startsWith("env.") || Object.keys(FILE_KEYS).some((p) => name.startsWith(p))) {
      // rendered files and env: parseRenderedFiles below
    } else if (!USER_KEYS.has(name) && !OWN_KEYS.has(name)) {
      problems.push(`unknown annotation '${key}'`);
    }
  }
  const mountPath = annotations[`${PREFIX}mount-path`] ?? DEFAULT_MOUNT_PATH;
  if (!mountPath.startsWith("/") || mountPath.includes("..") || mountPath.includes(":"))
    problems.push(`'${PREFIX}mount-path' must be an absolute path without '..' or ':'`);
  const refreshText = annotations[`${PREFIX}refresh-interval`];
  const refreshMs = refreshText === undefined ? DEFAULT_REFRESH_MS : parseDuration(refreshText);
  if (refreshMs === undefined || refreshMs < 1000)
    problems.push(`'${PREFIX}refresh-interval' must be a duration of at least 1s such as 30s or 5m`);
  const containersText = annotations[`${PREFIX}containers`];
  const containers = containersText
    ?.split(",")
    .map((c) => c.trim())
    .filter(Boolean);
  const binding = annotations[`${PREFIX}binding`];
  if (binding !== undefined && !DNS_NAME.test(binding))
    problems.push(`'${PREFIX}binding' must be the name of a SecretBinding`);
  const host = annotations[`${PREFIX}host`];
  if (host !== undefined && !host.trim()) problems.push(`'${PREFIX}host' may not be empty`);
  const rendered = parseRenderedFiles(annotations, PREFIX, problems);
  if (rendered.mode !== "secret" && binding !== undefined) problems.push(`'${PREFIX}binding' needs inject-mode secret`);
  for (const name of envKeyCollisions(rendered))
    problems.push(
      `file '${envSecretKey(name)}' would share its Secret key with '${PREFIX}env.${name}'; rename the file`,
    );
  if (!rendered.files.length && !Object.keys(rendered.env).length && binding === undefined)
    problems.push(`no secrets requested: add '${PREFIX}secret.<file>: <variable id>' or '${PREFIX}binding'`);
  if (problems.length) return { problems };
  return { files, host: host?.trim(), mountPath, refreshMs: refreshMs!, containers, binding, rendered };
}
