/**
 * A rendered file's description, as the pod annotations give it: which variables under
 * which keys, the format, the template, the mode. Parsed and validated here once, so the
 * webhook (rejecting bad annotations), the controller and the agent agree on every rule.
 */
import { parseDocument } from "yaml";
import { RenderError } from "./errors.js";
import { checkKey, type FileFormat, parseFormat, RENDER_LIMITS } from "./formats.js";
import { parseTemplate, type ParsedTemplate } from "./template.js";

export interface FileEntry {
  key: string;
  variableId: string;
}

export interface FileSpec {
  /** File name relative to the mount path. */
  file: string;
  /** `undefined`: the single-variable form (`secret.<file>`), the raw value. */
  format: FileFormat | undefined;
  entries: FileEntry[];
  template: ParsedTemplate | undefined;
  /** Octal permission bits, e.g. 0o400; undefined = the default. */
  mode: number | undefined;
}

/** `secrets.<file>`: a YAML list of `{KEY: variable id}` or bare ids (key = last path segment, as CyberArk). */
export function parseSecretGroup(source: string, file: string): FileEntry[] {
  if (source.length > RENDER_LIMITS.keysPerFile * 1024)
    throw new RenderError(`file '${file}': the secrets list is too long`);
  const doc = parseDocument(source, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0)
    throw new RenderError(
      `file '${file}': the secrets list is not valid YAML (${doc.errors[0]!.message.split("\n")[0]})`,
    );
  let list: unknown;
  try {
    list = doc.toJS({ maxAliasCount: 0 }); // no anchors/aliases: no "billion laughs"
  } catch {
    throw new RenderError(`file '${file}': the secrets list may not use YAML anchors or aliases`);
  }
  if (!Array.isArray(list) || list.length === 0)
    throw new RenderError(`file '${file}': the secrets list must be a non-empty YAML list of {KEY: variable id}`);
  if (list.length > RENDER_LIMITS.keysPerFile)
    throw new RenderError(`file '${file}': more than ${RENDER_LIMITS.keysPerFile} secrets`);
  return list.map((item: unknown, i): FileEntry => {
    if (typeof item === "string" && item.trim() !== "")
      return { key: item.trim().split("/").pop()!, variableId: item.trim() };
    if (item && typeof item === "object" && !Array.isArray(item)) {
      const pairs = Object.entries(item);
      const [key, id] = pairs[0] ?? [];
      if (pairs.length === 1 && typeof id === "string" && id.trim() !== "") return { key: key!, variableId: id.trim() };
    }
    throw new RenderError(
      `file '${file}': item ${i + 1} of the secrets list must be 'KEY: variable id' (one pair) or a variable id`,
    );
  });
}

/** `file-mode.<file>`: octal, 3 or 4 digits, e.g. "0400", "640". */
export function parseFileMode(raw: string, file: string): number {
  const text = raw.trim();
  if (!/^0?[0-7]{3}$/.test(text))
    throw new RenderError(
      `file '${file}': file-mode '${text.slice(0, 20)}' must be octal permissions such as 0400 or 0644`,
    );
  return parseInt(text, 8);
}

export interface FileAnnotations {
  /** `secrets.<file>` (group form) — or `secret` (single-variable form), never both. */
  secrets?: string;
  secret?: string;
  format?: string;
  template?: string;
  mode?: string;
}

/** Validates one file's annotations into a spec; throws RenderError with the rule broken. */
export function buildFileSpec(file: string, a: FileAnnotations): FileSpec {
  const mode = a.mode === undefined ? undefined : parseFileMode(a.mode, file);
  if (a.secret !== undefined && a.secrets !== undefined)
    throw new RenderError(`file '${file}': give either secret.${file} or secrets.${file}, not both`);
  if (a.secret !== undefined) {
    if (a.format !== undefined || a.template !== undefined)
      throw new RenderError(`file '${file}': format and template need the group form secrets.${file}`);
    if (a.secret.trim() === "") throw new RenderError(`file '${file}': the variable id is empty`);
    return {
      file,
      format: undefined,
      entries: [{ key: file, variableId: a.secret.trim() }],
      template: undefined,
      mode,
    };
  }
  if (a.secrets === undefined)
    throw new RenderError(`file '${file}': format, template or file-mode given without secrets.${file}`);
  const entries = parseSecretGroup(a.secrets, file);
  const format = parseFormat(a.format ?? "yaml");
  const seen = new Set<string>();
  for (const { key } of entries) {
    checkKey(format, key, file);
    if (seen.has(key)) throw new RenderError(`file '${file}': key '${key}' is given twice`);
    seen.add(key);
  }
  if (format !== "template") {
    if (a.template !== undefined)
      throw new RenderError(`file '${file}': a template needs format template (format is ${format})`);
    return { file, format, entries, template: undefined, mode };
  }
  if (a.template === undefined || a.template.trim() === "")
    throw new RenderError(`file '${file}': format template needs template.${file}`);
  const template = parseTemplate(a.template, file);
  const unknown = template.aliases.find((alias) => !seen.has(alias));
  if (unknown !== undefined)
    throw new RenderError(`file '${file}': template reads alias '${unknown}', which secrets.${file} does not define`);
  return { file, format, entries, template, mode };
}

/** Every variable id the specs read, de-duplicated, for one batch request. */
export const variableIdsOf = (specs: readonly FileSpec[]): string[] => [
  ...new Set(specs.flatMap((s) => s.entries.map((e) => e.variableId))),
];
