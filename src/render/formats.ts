/** The file formats and the key rules each one imposes. */
import { RenderError } from "./errors.js";

export const FORMATS = ["yaml", "json", "dotenv", "properties", "bash", "template"] as const;
export type FileFormat = (typeof FORMATS)[number];

/** Bounds on what one file description may hold (annotations are hostile input). */
export const RENDER_LIMITS = Object.freeze({
  keysPerFile: 500,
  keyChars: 253,
  templateChars: 64 * 1024,
  templateActions: 1_000,
  pipesPerAction: 8,
  /** Largest rendered file: a Secret (and a memory emptyDir file) should stay small. */
  outputBytes: 1024 * 1024,
});

export function parseFormat(raw: string): FileFormat {
  const format = raw.trim();
  if ((FORMATS as readonly string[]).includes(format)) return format as FileFormat;
  throw new RenderError(`unknown format '${format.slice(0, 40)}': use one of ${FORMATS.join(", ")}`);
}

/** A name a POSIX shell (and every dotenv dialect) accepts as a variable name. */
export const isEnvName = (key: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*$/.test(key);

/** Throws when `key` cannot be a key of a file in `format`. */
export function checkKey(format: FileFormat, key: string, file: string): void {
  if (key === "") throw new RenderError(`file '${file}': a key may not be empty`);
  if (key.length > RENDER_LIMITS.keyChars)
    throw new RenderError(
      `file '${file}': key '${key.slice(0, 40)}…' is longer than ${RENDER_LIMITS.keyChars} characters`,
    );
  if (key.includes("\0")) throw new RenderError(`file '${file}': a key may not contain a NUL character`);
  if ((format === "dotenv" || format === "bash") && !isEnvName(key)) {
    throw new RenderError(
      `file '${file}': key '${key}' is not a valid environment variable name for ${format} (letters, digits and '_', not starting with a digit)`,
    );
  }
}
