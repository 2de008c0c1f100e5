/**
 * The template format: text with actions `{{ secret "ALIAS" | fn | fn }}`, the subset of Go
 * text/template that CyberArk push-to-file templates use (`secret`, `b64enc`, `b64dec`,
 * `urlquery`, trim markers `{{-` / `-}}`, comments `{{/* … *\/}}`). It is parsed into a
 * list of parts and evaluated by concatenation: no code runs, no loops exist, and sizes
 * and counts are bounded, so a hostile template costs at most linear time.
 */
import { RenderError } from "./errors.js";
import { RENDER_LIMITS } from "./formats.js";
import { queryEscape } from "./escape.js";

export const TEMPLATE_FUNCTIONS = ["b64enc", "b64dec", "urlquery"] as const;
export type TemplateFunction = (typeof TEMPLATE_FUNCTIONS)[number];

export type TemplatePart = { text: string } | { alias: string; pipes: TemplateFunction[] };

export interface ParsedTemplate {
  parts: TemplatePart[];
  /** Every alias the template reads, in order of first use. */
  aliases: string[];
}

const fail = (file: string, message: string): never => {
  throw new RenderError(`file '${file}': template ${message}`);
};

/** `"…"` with Go escapes `\\ \" \n \t`, or a raw backtick string. */
function readString(source: string, file: string): { value: string; rest: string } {
  if (source.startsWith("`")) {
    const end = source.indexOf("`", 1);
    if (end < 0) fail(file, "has an unterminated raw string");
    return { value: source.slice(1, end), rest: source.slice(end + 1) };
  }
  if (!source.startsWith('"')) fail(file, `expects a quoted alias after 'secret', found '${source.slice(0, 20)}'`);
  let value = "";
  for (let i = 1; i < source.length; i++) {
    const c = source[i]!;
    if (c === '"') return { value, rest: source.slice(i + 1) };
    if (c === "\n") break;
    if (c === "\\") {
      const next = source[++i];
      const escaped =
        next === undefined ? undefined : ({ "\\": "\\", '"': '"', n: "\n", t: "\t" } as Record<string, string>)[next];
      if (escaped === undefined) fail(file, `has an unsupported escape '\\${next ?? ""}' in a string`);
      value += escaped;
    } else value += c;
  }
  return fail(file, "has an unterminated string");
}

function parseAction(body: string, file: string): TemplatePart | undefined {
  const trimmed = body.trim();
  if (trimmed.startsWith("/*")) {
    if (!trimmed.endsWith("*/")) fail(file, "has an unterminated comment");
    return undefined;
  }
  if (!/^secret\s/.test(trimmed))
    fail(
      file,
      `action '{{ ${trimmed.slice(0, 40)} }}' is not supported: only {{ secret "ALIAS" }} with pipes ${TEMPLATE_FUNCTIONS.join(", ")}`,
    );
  const { value: alias, rest } = readString(trimmed.slice("secret".length).trimStart(), file);
  if (alias === "") fail(file, "reads an empty alias");
  const pipes: TemplateFunction[] = [];
  const tail = rest.trim();
  if (tail !== "") {
    if (!tail.startsWith("|")) fail(file, `has unexpected '${tail.slice(0, 20)}' after secret "${alias}"`);
    for (const raw of tail.slice(1).split("|")) {
      const name = raw.trim();
      if (!(TEMPLATE_FUNCTIONS as readonly string[]).includes(name))
        fail(file, `uses unknown function '${name.slice(0, 40)}': use ${TEMPLATE_FUNCTIONS.join(", ")}`);
      pipes.push(name as TemplateFunction);
    }
    if (pipes.length > RENDER_LIMITS.pipesPerAction)
      fail(file, `has more than ${RENDER_LIMITS.pipesPerAction} functions in one action`);
  }
  return { alias, pipes };
}

export function parseTemplate(source: string, file: string): ParsedTemplate {
  if (source.length > RENDER_LIMITS.templateChars)
    fail(file, `is longer than ${RENDER_LIMITS.templateChars} characters`);
  const parts: TemplatePart[] = [];
  let rest = source;
  let trimNextText = false;
  let actions = 0;
  while (rest !== "") {
    const open = rest.indexOf("{{");
    let text = open < 0 ? rest : rest.slice(0, open);
    if (trimNextText) text = text.trimStart();
    if (open < 0) {
      if (text !== "") parts.push({ text });
      break;
    }
    if (++actions > RENDER_LIMITS.templateActions) fail(file, `has more than ${RENDER_LIMITS.templateActions} actions`);
    const close = rest.indexOf("}}", open + 2);
    if (close < 0) fail(file, "has '{{' without a matching '}}'");
    let body = rest.slice(open + 2, close);
    // Go's trim markers need a space: `{{- x -}}`; `{{-3}}` would be a number.
    if (/^-\s/.test(body)) {
      text = text.trimEnd();
      body = body.slice(1);
    }
    trimNextText = /\s-$/.test(body);
    if (trimNextText) body = body.slice(0, -1);
    if (text !== "") parts.push({ text });
    const action = parseAction(body, file);
    if (action) parts.push(action);
    rest = rest.slice(close + 2);
  }
  const aliases = [...new Set(parts.flatMap((p) => ("alias" in p ? [p.alias] : [])))];
  return { parts, aliases };
}

function applyPipe(fn: TemplateFunction, value: Buffer, file: string, alias: string): Buffer {
  switch (fn) {
    case "b64enc":
      return Buffer.from(value.toString("base64"));
    case "urlquery":
      return Buffer.from(queryEscape(value));
    case "b64dec": {
      const text = value.toString("latin1").trim();
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0)
        fail(file, `cannot b64dec the value of '${alias}': it is not base64`);
      return Buffer.from(text, "base64");
    }
  }
}

/** Renders the parsed template; `lookup` gives each alias's value. Output is bytes; the caller checks it is text. */
export function evaluateTemplate(
  template: ParsedTemplate,
  lookup: (alias: string) => Buffer | undefined,
  file: string,
): Buffer {
  const chunks: Buffer[] = [];
  let size = 0;
  for (const part of template.parts) {
    let chunk: Buffer;
    if ("text" in part) chunk = Buffer.from(part.text);
    else {
      const value = lookup(part.alias);
      if (value === undefined) fail(file, `reads alias '${part.alias}', which the file's secrets do not define`);
      chunk = part.pipes.reduce((v, fn) => applyPipe(fn, v, file, part.alias), value!);
    }
    size += chunk.length;
    if (size > RENDER_LIMITS.outputBytes) fail(file, `output is larger than ${RENDER_LIMITS.outputBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
