/**
 * The rendered-file and env annotations (issue 11): `inject-mode`, `secrets.<file>`,
 * `format.<file>`, `template.<file>`, `file-mode.<file>`, `env.<NAME>`. Validation is the
 * render module's (src/render), so the webhook, the controller and the agent agree.
 */
import { RenderError } from "../../render/errors.js";
import { fileNameProblem } from "../../render/file-name.js";
import { buildFileSpec, type FileAnnotations, type FileSpec } from "../../render/file-spec.js";
import { isEnvName } from "../../render/formats.js";

export const INJECT_MODES = ["secret", "agent", "init"] as const;
export type InjectMode = (typeof INJECT_MODES)[number];

/** Per-file annotation prefixes and the field of FileAnnotations each fills. */
export const FILE_KEYS: Record<string, keyof FileAnnotations> = {
  "secret.": "secret",
  "secrets.": "secrets",
  "format.": "format",
  "template.": "template",
  "file-mode.": "mode",
};

export interface RenderedFiles {
  mode: InjectMode;
  files: FileSpec[];
  /** env NAME → variable id (Secret mode only). */
  env: Record<string, string>;
  /** The annotations of each file, as the agent's --files JSON takes them. */
  annotationsByFile: Record<string, FileAnnotations>;
}

/** `annotations` are the pod's, prefix stripped. Problems are pushed, never thrown. */
export function parseRenderedFiles(
  annotations: Record<string, string>,
  prefix: string,
  problems: string[],
): RenderedFiles {
  const modeText = annotations[`${prefix}inject-mode`] ?? "secret";
  const mode = (INJECT_MODES as readonly string[]).includes(modeText) ? (modeText as InjectMode) : "secret";
  if (mode !== modeText)
    problems.push(`'${prefix}inject-mode' must be one of ${INJECT_MODES.join(", ")}, got '${modeText.slice(0, 40)}'`);
  const byFile: Record<string, FileAnnotations> = {};
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(annotations)) {
    if (!key.startsWith(prefix)) continue;
    const name = key.slice(prefix.length);
    if (name.startsWith("env.")) {
      const variable = name.slice("env.".length);
      if (!isEnvName(variable)) problems.push(`'${key}': '${variable}' is not a valid environment variable name`);
      else if (!value.trim()) problems.push(`'${key}' names no variable`);
      else env[variable] = value.trim();
      continue;
    }
    const filePrefix = Object.keys(FILE_KEYS).find((p) => name.startsWith(p));
    if (!filePrefix) continue;
    const file = name.slice(filePrefix.length);
    const problem = fileNameProblem(file);
    if (problem) {
      problems.push(`'${key}': ${problem}`);
      continue;
    }
    (byFile[file] ??= {})[FILE_KEYS[filePrefix]!] = value;
  }
  if (Object.keys(env).length && mode !== "secret")
    problems.push(`'${prefix}env.<NAME>' needs inject-mode secret (environment variables come from a Secret)`);
  const files: FileSpec[] = [];
  for (const [file, fileAnnotations] of Object.entries(byFile)) {
    try {
      files.push(buildFileSpec(file, fileAnnotations));
    } catch (err) {
      if (!(err instanceof RenderError)) throw err;
      problems.push(err.message);
    }
  }
  return { mode, files, env, annotationsByFile: byFile };
}
