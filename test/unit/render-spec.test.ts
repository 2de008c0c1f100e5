import { expect } from "chai";
import { RenderError } from "../../src/render/errors.js";
import { buildFileSpec, parseFileMode, parseSecretGroup, variableIdsOf } from "../../src/render/file-spec.js";
import { checkKey, parseFormat } from "../../src/render/formats.js";
import { renderFile } from "../../src/render/render-file.js";

describe("unit: render file descriptions (the annotation rules)", () => {
  it("reads a group as a YAML list of {KEY: id}; bare ids take the last path segment as key", () => {
    expect(parseSecretGroup("- DB_USER: db/user\n- db/password\n", "f")).to.deep.equal([
      { key: "DB_USER", variableId: "db/user" },
      { key: "password", variableId: "db/password" },
    ]);
  });

  it("rejects groups that are not a non-empty list of single pairs or ids", () => {
    expect(() => parseSecretGroup("DB_USER: db/user", "f")).to.throw(RenderError, /non-empty YAML list/);
    expect(() => parseSecretGroup("[]", "f")).to.throw(RenderError, /non-empty YAML list/);
    expect(() => parseSecretGroup("- {A: x, B: y}", "f")).to.throw(RenderError, /item 1/);
    expect(() => parseSecretGroup("- A: [x]", "f")).to.throw(RenderError, /item 1/);
    expect(() => parseSecretGroup("- A: x\n- 3", "f")).to.throw(RenderError, /item 2/);
    expect(() => parseSecretGroup("- [unclosed", "f")).to.throw(RenderError, /not valid YAML/);
    expect(() => parseSecretGroup("- &a A: x\n- *a", "f")).to.throw(RenderError);
    expect(() => parseSecretGroup(Array.from({ length: 501 }, (_, i) => `- K${i}: v`).join("\n"), "f")).to.throw(
      RenderError,
      /more than 500/,
    );
  });

  it("accepts only the six formats", () => {
    expect(parseFormat("dotenv")).to.equal("dotenv");
    expect(() => parseFormat("toml")).to.throw(
      RenderError,
      /unknown format 'toml': use one of yaml, json, dotenv, properties, bash, template/,
    );
  });

  it("requires env names as keys for dotenv and bash only", () => {
    expect(() => checkKey("dotenv", "DB-USER", "app.env")).to.throw(
      RenderError,
      /'DB-USER' is not a valid environment variable name for dotenv/,
    );
    expect(() => checkKey("bash", "1ST", "f")).to.throw(RenderError, /not a valid environment variable name/);
    expect(() => checkKey("bash", "a b", "f")).to.throw(RenderError);
    checkKey("json", "DB-USER", "f");
    checkKey("properties", "db.user name", "f");
    checkKey("dotenv", "_ok9", "f");
    expect(() => checkKey("json", "", "f")).to.throw(RenderError, /empty/);
  });

  it("parses file modes as octal and rejects anything else", () => {
    expect(parseFileMode("0400", "f")).to.equal(0o400);
    expect(parseFileMode("644", "f")).to.equal(0o644);
    for (const bad of ["0800", "400000", "rw-r--r--", "", "0o400", "1777"])
      expect(() => parseFileMode(bad, "f"), bad).to.throw(RenderError, /octal/);
  });

  it("builds the issue's example: dotenv group with mode", () => {
    const spec = buildFileSpec("app.env", {
      secrets: "- DB_USER: db/user\n- DB_PASSWORD: db/password\n",
      format: "dotenv",
      mode: "0400",
    });
    expect(spec).to.include({ file: "app.env", format: "dotenv", mode: 0o400 });
    expect(
      renderFile(
        spec,
        new Map([
          ["db/user", Buffer.from("u")],
          ["db/password", Buffer.from("p$")],
        ]),
      ).toString(),
    ).to.equal('DB_USER="u"\nDB_PASSWORD="p\\$"\n');
  });

  it("defaults the group format to yaml", () => {
    expect(buildFileSpec("f", { secrets: "- A: x" }).format).to.equal("yaml");
  });

  it("checks a template's aliases against the group at validation time", () => {
    const ok = buildFileSpec("dsn", {
      secrets: "- U: db/user\n- P: db/pw",
      format: "template",
      template: 'pg://{{ secret "U" }}:{{ secret "P" | urlquery }}@db',
    });
    expect(ok.template!.aliases).to.deep.equal(["U", "P"]);
    expect(() =>
      buildFileSpec("dsn", { secrets: "- U: db/user", format: "template", template: '{{ secret "P" }}' }),
    ).to.throw(RenderError, /reads alias 'P', which secrets.dsn does not define/);
  });

  describe("rejects inconsistent annotations", () => {
    const cases: Array<[string, Parameters<typeof buildFileSpec>[1], RegExp]> = [
      ["both forms", { secret: "a", secrets: "- A: a" }, /either secret.f or secrets.f/],
      ["format on a single variable", { secret: "a", format: "json" }, /need the group form/],
      ["format without secrets", { format: "json" }, /without secrets.f/],
      [
        "template without format template",
        { secrets: "- A: a", format: "json", template: "x" },
        /needs format template/,
      ],
      ["format template without template", { secrets: "- A: a", format: "template" }, /needs template.f/],
      ["bad template", { secrets: "- A: a", format: "template", template: "{{ nope }}" }, /not supported/],
      ["duplicate key", { secrets: "- A: a\n- A: b", format: "json" }, /'A' is given twice/],
      ["bad dotenv key", { secrets: "- my-key: a", format: "dotenv" }, /not a valid environment variable name/],
      ["bad mode", { secrets: "- A: a", mode: "999" }, /octal/],
      ["empty id", { secret: "  " }, /empty/],
    ];
    for (const [name, annotations, message] of cases)
      it(name, () => expect(() => buildFileSpec("f", annotations)).to.throw(RenderError, message));
  });

  it("lists the variable ids of several files once each", () => {
    const specs = [
      buildFileSpec("a", { secrets: "- A: x\n- B: y" }),
      buildFileSpec("b", { secret: "y" }),
      buildFileSpec("c", { secrets: "- z" }),
    ];
    expect(variableIdsOf(specs)).to.deep.equal(["x", "y", "z"]);
  });
});
