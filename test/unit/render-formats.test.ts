import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { RenderError } from "../../src/render/errors.js";
import { buildFileSpec } from "../../src/render/file-spec.js";
import { renderFile } from "../../src/render/render-file.js";

/** Values that break naive writers: quotes, newlines, `$`, backticks, `=`/`:`/`#`/`!`, backslashes, unicode. */
const NASTY: Record<string, string> = {
  plain: "hunter2",
  quotes: `it's a "quote"`,
  newlines: "line1\nline2\r\nline3",
  shell: "$HOME ${USER} `id` $(whoami) \\n",
  props: "a=b:c#d!e \\ f",
  leading: "  two leading spaces",
  unicode: "héllo wörld — 日本 😀",
  empty: "",
  yamlish: "no",
  tab: "a\tb",
};

const values = (record: Record<string, string | Buffer>) =>
  new Map(Object.entries(record).map(([k, v]) => [`vars/${k}`, typeof v === "string" ? Buffer.from(v) : v]));
const group = (keys: string[]) => keys.map((k) => `- ${JSON.stringify(k)}: ${JSON.stringify(`vars/${k}`)}`).join("\n");
const render = (format: string, record: Record<string, string | Buffer>, template?: string): string =>
  renderFile(
    buildFileSpec("out", { secrets: group(Object.keys(record)), format, ...(template ? { template } : {}) }),
    values(record),
  ).toString("utf8");

describe("unit: render formats", () => {
  describe("json", () => {
    it("writes keys as given and values that JSON.parse gives back exactly", () => {
      const out = render("json", NASTY);
      expect(JSON.parse(out)).to.deep.equal(NASTY);
      expect(Object.keys(JSON.parse(out))).to.deep.equal(Object.keys(NASTY));
    });
    it("writes binary values as base64", () => {
      const out = render("json", { cert: Buffer.from([0xff, 0x00, 0xfe]) });
      expect(JSON.parse(out)).to.deep.equal({ cert: "/wD+" });
    });
  });

  describe("yaml", () => {
    it("double-quotes keys and values so every reader gets the same strings (no `no` → false)", () => {
      const out = render("yaml", NASTY);
      expect(parseYaml(out)).to.deep.equal(NASTY);
      expect(out).to.include(`"yamlish": "no"`);
    });
    it("writes binary values as !!binary base64, which a YAML reader decodes to the same bytes", () => {
      const out = render("yaml", { cert: Buffer.from([0xff, 0x00, 0xfe]) });
      expect(out).to.include("!!binary");
      expect(out).to.include("/wD+");
      expect(Buffer.from(parseYaml(out, { customTags: ["binary"] }).cert as Uint8Array)).to.deep.equal(
        Buffer.from([0xff, 0x00, 0xfe]),
      );
    });
  });

  describe("dotenv (godotenv / Docker Compose dialect)", () => {
    it("double-quotes and escapes backslash, quote, newline, CR, $ and backtick", () => {
      expect(render("dotenv", { A: `x"y\\z`, B: "l1\nl2\r", C: "$HOME `id`", D: "it's #1 = ok" })).to.equal(
        'A="x\\"y\\\\z"\nB="l1\\nl2\\r"\nC="\\$HOME \\`id\\`"\nD="it\'s #1 = ok"\n',
      );
    });
    it("keeps unicode and the empty value", () => {
      expect(render("dotenv", { U: "日本 😀", E: "" })).to.equal('U="日本 😀"\nE=""\n');
    });
    it("refuses binary values with a message naming the key, not the value", () => {
      expect(() => render("dotenv", { K: Buffer.from([0xff, 0xfe]) })).to.throw(
        RenderError,
        /'K' is binary .* format dotenv is text/,
      );
    });
  });

  describe("bash", () => {
    it("single-quotes every value so that bash sourcing the file gets each value byte for byte", () => {
      const record: Record<string, string> = {};
      Object.entries(NASTY).forEach(([k, v], i) => (record[`V${i}_${k}`] = v));
      const dir = mkdtempSync(join(tmpdir(), "render-bash-"));
      writeFileSync(join(dir, "env.sh"), render("bash", record));
      for (const [key, expected] of Object.entries(record)) {
        const got = execFileSync("bash", ["-c", `. ./env.sh && printf %s "$${key}"`], { cwd: dir, env: {} }).toString(
          "utf8",
        );
        expect(got, key).to.equal(expected);
      }
      // exported: a child process sees them
      expect(
        execFileSync("bash", ["-c", `. ./env.sh && bash -c 'printf %s "$V0_plain"'`], { cwd: dir, env: {} }).toString(),
      ).to.equal("hunter2");
    });
    it("writes `export KEY='…'` with ' as '\\''", () => {
      expect(render("bash", { K: "a'b$c" })).to.equal(`export K='a'\\''b$c'\n`);
    });
    it("refuses NUL bytes (a shell variable cannot hold one) and binary values", () => {
      expect(() => render("bash", { K: "a\0b" })).to.throw(RenderError, /NUL/);
      expect(() => render("bash", { K: Buffer.from([0xc3]) })).to.throw(RenderError, /binary/);
    });
  });

  describe("properties (java.util.Properties)", () => {
    it("escapes = : # ! backslash, control characters and non-ASCII as Properties.store does", () => {
      expect(render("properties", { "a.key": "a=b:c#d!e \\ f", u: "é😀", s: "  lead", n: "x\ny\tz" })).to.equal(
        "a.key=a\\=b\\:c\\#d\\!e \\\\ f\nu=\\u00E9\\uD83D\\uDE00\ns=\\  lead\nn=x\\ny\\tz\n",
      );
    });
    it("escapes spaces and separators in keys", () => {
      expect(render("properties", { "my key=x:y": "v" })).to.equal("my\\ key\\=x\\:y=v\n");
    });
    it("is read back exactly by the JDK's Properties.load", function () {
      this.timeout(60_000);
      const record: Record<string, string> = { ...NASTY, "weird key = : # !": "v", ключ: "значение" };
      const dir = mkdtempSync(join(tmpdir(), "render-props-"));
      writeFileSync(join(dir, "app.properties"), render("properties", record));
      writeFileSync(
        join(dir, "Dump.java"),
        `import java.io.*; import java.util.*;
public class Dump { public static void main(String[] a) throws Exception {
  Properties p = new Properties(); try (InputStream in = new FileInputStream(a[0])) { p.load(in); }
  PrintStream out = new PrintStream(System.out, true, "UTF-8");
  for (String k : new TreeSet<>(p.stringPropertyNames())) out.print(Base64.getEncoder().encodeToString(k.getBytes("UTF-8")) + " " + Base64.getEncoder().encodeToString(p.getProperty(k).getBytes("UTF-8")) + "\\n");
} }`,
      );
      const lines = execFileSync("java", ["Dump.java", "app.properties"], { cwd: dir }).toString().trim().split("\n");
      const read = Object.fromEntries(
        lines.map((l) => l.split(" ").map((b) => Buffer.from(b, "base64").toString("utf8"))),
      );
      expect(read).to.deep.equal(record);
    });
  });

  describe("single-variable files (secret.<file>)", () => {
    it("are the raw value, binary included", () => {
      const spec = buildFileSpec("cert.der", { secret: "vars/cert" });
      expect(renderFile(spec, values({ cert: Buffer.from([0, 0xff]) }))).to.deep.equal(Buffer.from([0, 0xff]));
    });
  });

  it("names the variable whose value is missing", () => {
    const spec = buildFileSpec("f", { secrets: "- A: vars/a", format: "json" });
    expect(() => renderFile(spec, new Map())).to.throw(RenderError, /no value for variable 'vars\/a'/);
  });
});
