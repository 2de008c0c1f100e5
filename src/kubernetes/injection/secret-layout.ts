/**
 * What a Secret-mode pod's managed Secret holds and how the pod reads it, in one place for
 * the webhook (volume items, env secretKeyRef) and the controller (Secret data):
 *  - one key per file, named as the file: the raw value (`secret.<file>`) or the rendered
 *    file (`secrets.<file>` with its format or template);
 *  - one key `env.<NAME>` per `env.<NAME>` annotation, the raw value. These keys are never
 *    projected as files (the volume lists its items), and a file may not take such a name.
 */
import type { RenderedFiles } from "./file-annotations.js";

export const envSecretKey = (name: string): string => `env.${name}`;

const groupsOf = (r: RenderedFiles) => r.files.filter((f) => f.format !== undefined);

/** Grouped files or env: the parts of the Secret that `secret.<file>` alone never had. */
export function hasRenderedContent(r: RenderedFiles): boolean {
  return groupsOf(r).length > 0 || Object.keys(r.env).length > 0;
}

/**
 * Whether the projected volume must list its items: to hide env keys and to give file
 * modes. A pod with only `secret.<file>` and no file-mode keeps today's volume unchanged.
 */
export function needsVolumeItems(r: RenderedFiles): boolean {
  return hasRenderedContent(r) || r.files.some((f) => f.mode !== undefined);
}

/** The volume items: every file, its mode when `file-mode.<file>` gives one. */
export function volumeItems(r: RenderedFiles): Array<{ key: string; path: string; mode?: number }> {
  return [...r.files]
    .sort((a, b) => a.file.localeCompare(b.file))
    .map((f) => ({ key: f.file, path: f.file, ...(f.mode === undefined ? {} : { mode: f.mode }) }));
}

/**
 * What of the grouped files and env decides the Secret's content, canonically (sorted,
 * whitespace of the YAML list ignored, template text as given), for the Secret's name.
 * File modes are not content (they live in the pod's volume), so they are left out.
 * `undefined` when there is none: single-variable pods keep their name.
 */
export function renderedContentKey(r: RenderedFiles): unknown[] | undefined {
  if (!hasRenderedContent(r)) return undefined;
  const groups = groupsOf(r)
    .sort((a, b) => a.file.localeCompare(b.file))
    .map((f) => [
      f.file,
      f.format,
      f.entries.map((e) => [e.key, e.variableId]),
      r.annotationsByFile[f.file]?.template ?? null,
    ]);
  const env = Object.entries(r.env).sort(([a], [b]) => a.localeCompare(b));
  return [groups, env];
}

/** File names that would collide with an env key (both would be the same Secret key). */
export function envKeyCollisions(r: RenderedFiles): string[] {
  return Object.keys(r.env).filter((name) => r.files.some((f) => f.file === envSecretKey(name)));
}
