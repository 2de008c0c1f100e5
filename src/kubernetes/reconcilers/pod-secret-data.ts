/**
 * The data of a Secret-mode pod's managed Secret (layout: injection/secret-layout.ts), from
 * the values fetched in one batch: files rendered by the same render module the agent uses,
 * env values raw. Pure. A file that cannot be rendered (a binary value in a text format)
 * fails the whole Secret: the pod keeps its last good one rather than a partial update.
 */
import { RenderError } from "../../render/errors.js";
import { renderFile } from "../../render/render-file.js";
import type { InjectionSpec } from "../injection/annotations.js";
import { envSecretKey } from "../injection/secret-layout.js";

type Spec = Pick<InjectionSpec, "rendered">;

/** The API server refuses a Secret whose data passes 1 MiB; refuse it here, with a reason, instead. */
const MAX_SECRET_BYTES = 1024 * 1024;

/** Every variable id the Secret needs (files and env), once each. */
export function podSecretVariables(spec: Spec): string[] {
  return [
    ...new Set([
      ...spec.rendered.files.flatMap((f) => f.entries.map((e) => e.variableId)),
      ...Object.values(spec.rendered.env),
    ]),
  ];
}

/** Secret data (base64 values), or why it cannot be made — a message that names files and keys, never values. */
export function podSecretData(
  spec: Spec,
  values: ReadonlyMap<string, Buffer>,
): { ok: true; data: Record<string, string> } | { ok: false; message: string } {
  const data: Record<string, string> = {};
  try {
    for (const file of spec.rendered.files) data[file.file] = renderFile(file, values).toString("base64");
  } catch (err) {
    if (err instanceof RenderError) return { ok: false, message: err.message };
    throw err;
  }
  for (const [name, id] of Object.entries(spec.rendered.env))
    data[envSecretKey(name)] = values.get(id)!.toString("base64");
  const bytes = Object.values(data).reduce((sum, v) => sum + Buffer.byteLength(v, "base64"), 0);
  if (bytes > MAX_SECRET_BYTES)
    return {
      ok: false,
      message: `the files and env come to ${bytes} bytes, more than a Secret holds (${MAX_SECRET_BYTES}); split them across pods or use inject-mode agent`,
    };
  return { ok: true, data };
}
