/** Patch flavours: JSON Patch (fast-json-patch), RFC 7386 merge patch, and strategic merge (as merge). */
import jsonpatch from "fast-json-patch";
import { StatusError } from "./types.js";

/** RFC 7386: objects merge recursively, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    target && typeof target === "object" && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

export function applyPatch(contentType: string, current: object, body: unknown): object {
  if (contentType.startsWith("application/json-patch+json")) {
    try {
      return jsonpatch.applyPatch(structuredClone(current), body as jsonpatch.Operation[], true, false).newDocument;
    } catch (err) {
      throw new StatusError(422, "Invalid", `the JSON patch could not be applied: ${(err as Error).message}`);
    }
  }
  // Strategic merge patch is treated as a merge patch: enough for the fields our tests patch
  // (labels, annotations, data, status), not for list-merge keys.
  if (
    contentType.startsWith("application/merge-patch+json") ||
    contentType.startsWith("application/strategic-merge-patch+json")
  ) {
    return mergePatch(current, body) as object;
  }
  throw new StatusError(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`,
  );
}
