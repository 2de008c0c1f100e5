/**
 * Renders one file from its spec and the fetched values. Pure: bytes in, bytes out.
 * Binary (non-UTF-8) values are base64 in json, `!!binary` in yaml, and refused in the
 * text formats (dotenv, properties, bash, and templates that do not `b64enc` them).
 */
import { isUtf8 } from "node:buffer";
import { stringify } from "yaml";
import { RenderError } from "./errors.js";
import { RENDER_LIMITS } from "./formats.js";
import { bashQuote, dotenvQuote, propertiesEscape } from "./escape.js";
import type { FileSpec } from "./file-spec.js";
import { evaluateTemplate } from "./template.js";

/** Values by variable id (as fetched in one batch). */
export type SecretValues = ReadonlyMap<string, Buffer>;

function valuesOf(spec: FileSpec, values: SecretValues): Array<[string, Buffer]> {
  return spec.entries.map(({ key, variableId }) => {
    const value = values.get(variableId);
    if (value === undefined) throw new RenderError(`file '${spec.file}': no value for variable '${variableId}'`);
    return [key, value];
  });
}

function text(spec: FileSpec, key: string, value: Buffer): string {
  if (!isUtf8(value))
    throw new RenderError(
      `file '${spec.file}': the value of '${key}' is binary (not UTF-8) and format ${spec.format} is text; use json or yaml (base64), or a template with b64enc`,
    );
  const s = value.toString("utf8");
  if (spec.format === "bash" && s.includes("\0"))
    throw new RenderError(
      `file '${spec.file}': the value of '${key}' contains a NUL byte, which a shell variable cannot hold`,
    );
  return s;
}

const lines = (items: string[]): string => items.map((line) => `${line}\n`).join("");

function renderText(spec: FileSpec, values: SecretValues): string | Buffer {
  const pairs = valuesOf(spec, values);
  switch (spec.format) {
    case undefined:
      return pairs[0]![1];
    case "json":
      return (
        JSON.stringify(
          Object.fromEntries(pairs.map(([k, v]) => [k, isUtf8(v) ? v.toString("utf8") : v.toString("base64")])),
          null,
          2,
        ) + "\n"
      );
    case "yaml": {
      // Keys and values double-quoted: no YAML 1.1 surprises (`no`, `0777`, `~`) in any reader.
      const map = new Map<string, string | Uint8Array>(
        pairs.map(([k, v]) => [k, isUtf8(v) ? v.toString("utf8") : new Uint8Array(v)]),
      );
      return stringify(map, {
        customTags: ["binary"],
        defaultStringType: "QUOTE_DOUBLE",
        defaultKeyType: "QUOTE_DOUBLE",
        lineWidth: 0,
      });
    }
    case "dotenv":
      return lines(pairs.map(([k, v]) => `${k}=${dotenvQuote(text(spec, k, v))}`));
    case "bash":
      return lines(pairs.map(([k, v]) => `export ${k}=${bashQuote(text(spec, k, v))}`));
    case "properties":
      return lines(pairs.map(([k, v]) => `${propertiesEscape(k, true)}=${propertiesEscape(text(spec, k, v), false)}`));
    case "template": {
      const byAlias = new Map(pairs);
      const out = evaluateTemplate(spec.template!, (alias) => byAlias.get(alias), spec.file);
      if (!isUtf8(out))
        throw new RenderError(
          `file '${spec.file}': the template output is binary (not UTF-8); pipe binary values through b64enc`,
        );
      return out;
    }
  }
}

export function renderFile(spec: FileSpec, values: SecretValues): Buffer {
  const out = renderText(spec, values);
  const bytes = typeof out === "string" ? Buffer.from(out, "utf8") : out;
  if (spec.format !== undefined && bytes.length > RENDER_LIMITS.outputBytes)
    throw new RenderError(`file '${spec.file}': output is larger than ${RENDER_LIMITS.outputBytes} bytes`);
  return bytes;
}
