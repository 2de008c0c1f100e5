/**
 * Value encoders of the text formats. Each is the inverse of its format's reader:
 *  - bash: single quotes (nothing inside is special: `$`, backticks, `\`, newlines stay literal);
 *  - dotenv: double quotes in the godotenv / Docker Compose dialect (`\\`, `\"`, `\n`, `\r`, `\$`, "\`");
 *  - properties: `java.util.Properties.store` (ISO-8859-1 file, `\uXXXX` for the rest).
 */

export function bashQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

const DOTENV_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  '"': '\\"',
  "\n": "\\n",
  "\r": "\\r",
  $: "\\$",
  "`": "\\`",
};

export function dotenvQuote(value: string): string {
  return `"${value.replace(/[\\"\n\r$`]/g, (c) => DOTENV_ESCAPES[c]!)}"`;
}

const PROPERTIES_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
  "\f": "\\f",
  "=": "\\=",
  ":": "\\:",
  "#": "\\#",
  "!": "\\!",
};

/** Java's `Properties.saveConvert`: spaces escaped everywhere in keys, only leading in values. */
export function propertiesEscape(text: string, isKey: boolean): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const code = text.charCodeAt(i); // UTF-16 code units: astral characters become surrogate pairs, as Java writes them
    if (c === " ") out += isKey || i === 0 ? "\\ " : " ";
    else if (PROPERTIES_ESCAPES[c]) out += PROPERTIES_ESCAPES[c];
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).toUpperCase().padStart(4, "0")}`;
    else out += c;
  }
  return out;
}

/** Go's `url.QueryEscape` (what `urlquery` does in text/template): unreserved bytes kept, space as `+`. */
export function queryEscape(bytes: Buffer): string {
  let out = "";
  for (const byte of bytes) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === " ") out += "+";
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
