import { expect } from "chai";
import { RenderError } from "../../src/render/errors.js";
import { evaluateTemplate, parseTemplate } from "../../src/render/template.js";
import { queryEscape } from "../../src/render/escape.js";

const VALUES: Record<string, Buffer> = {
  user: Buffer.from("app"),
  password: Buffer.from("p@ss w/rd&x=1+é"),
  b64: Buffer.from("aGVsbG8="),
  bin: Buffer.from([0xff, 0x00]),
};
const run = (source: string): string =>
  evaluateTemplate(parseTemplate(source, "f"), (alias) => VALUES[alias], "f").toString("utf8");

describe("unit: render templates (push-to-file compatible subset)", () => {
  it('substitutes {{ secret "alias" }} and keeps text as is', () => {
    expect(run('user={{ secret "user" }} and {{secret "user"}}!')).to.equal("user=app and app!");
  });

  it("builds a DSN with urlquery, which escapes as Go's url.QueryEscape", () => {
    expect(run('postgres://{{ secret "user" }}:{{ secret "password" | urlquery }}@db:5432/app')).to.equal(
      "postgres://app:p%40ss+w%2Frd%26x%3D1%2B%C3%A9@db:5432/app",
    );
    expect(queryEscape(Buffer.from("AZaz09-_.~ !*'()"))).to.equal("AZaz09-_.~+%21%2A%27%28%29");
  });

  it("b64enc and b64dec, chained left to right", () => {
    expect(run('{{ secret "user" | b64enc }}')).to.equal("YXBw");
    expect(run('{{ secret "b64" | b64dec }}')).to.equal("hello");
    expect(run('{{ secret "b64" | b64dec | b64enc }}')).to.equal("aGVsbG8=");
    expect(run('{{ secret "bin" | b64enc }}')).to.equal("/wA=");
  });

  it("b64dec of a value that is not base64 is an error naming the alias", () => {
    expect(() => run('{{ secret "password" | b64dec }}')).to.throw(
      RenderError,
      /cannot b64dec the value of 'password'/,
    );
  });

  it("trim markers {{- and -}} remove the whitespace beside them, as Go does", () => {
    expect(run('a  \n {{- secret "user" -}} \n  b')).to.equal("aappb");
    // without the space it is not a trim marker (Go reads `-3` as a number): unsupported here
    expect(() => run("a {{-3}}")).to.throw(RenderError, /'\{\{ -3 \}\}' is not supported/);
  });

  it("comments produce nothing", () => {
    expect(run("x{{/* a comment */}}y")).to.equal("xy");
  });

  it("accepts raw backtick strings and escaped quotes in aliases", () => {
    expect(run("{{ secret `user` }}")).to.equal("app");
    expect(parseTemplate('{{ secret "a\\"b" }}', "f").aliases).to.deep.equal(['a"b']);
  });

  it("lists the aliases a template reads, once each, in order", () => {
    expect(parseTemplate('{{ secret "b" }}{{ secret "a" }}{{ secret "b" }}', "f").aliases).to.deep.equal(["b", "a"]);
  });

  describe("rejects, with a message naming the problem", () => {
    const rejects: Array<[string, RegExp]> = [
      ['{{ secret "user" ', /without a matching '}}'/],
      ["{{ .Values }}", /not supported: only \{\{ secret "ALIAS" \}\}/],
      ['{{ exec "rm -rf /" }}', /not supported/],
      ['{{ secret "user" | printf }}', /unknown function 'printf'/],
      ['{{ secret "user" | }}', /unknown function ''/],
      ["{{ secret user }}", /expects a quoted alias/],
      ['{{ secret "" }}', /empty alias/],
      ['{{ secret "user" extra }}', /unexpected 'extra'/],
      ['{{ secret "us\\qer" }}', /unsupported escape/],
      ['{{ secret "user }}', /unterminated string/],
      ["{{ secret `user }}", /unterminated raw string/],
      ["{{/* open }}", /unterminated comment/],
      [
        '{{ secret "user" | b64enc | b64enc | b64enc | b64enc | b64enc | b64enc | b64enc | b64enc | b64enc }}',
        /more than 8 functions/,
      ],
    ];
    for (const [source, message] of rejects) {
      it(source, () => expect(() => parseTemplate(source, "f")).to.throw(RenderError, message));
    }
  });

  it("bounds template size, action count and output size", () => {
    expect(() => parseTemplate("x".repeat(64 * 1024 + 1), "f")).to.throw(RenderError, /longer than/);
    expect(() => parseTemplate('{{ secret "a" }}'.repeat(1001), "f")).to.throw(RenderError, /more than 1000 actions/);
    const big = Buffer.alloc(600 * 1024, "a");
    expect(() => evaluateTemplate(parseTemplate('{{ secret "a" }}{{ secret "a" }}', "f"), () => big, "f")).to.throw(
      RenderError,
      /larger than/,
    );
  });

  it("an alias the lookup does not know is an error, not an empty string", () => {
    expect(() => run('{{ secret "nope" }}')).to.throw(RenderError, /reads alias 'nope'/);
  });
});
