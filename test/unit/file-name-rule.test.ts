import { expect } from "chai";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { parseAgentFiles } from "../../src/agent/agent-config.js";
import { parseInjection } from "../../src/kubernetes/injection/annotations.js";
import { isFileName } from "../../src/render/file-name.js";

/** Names every consumer must refuse: the kubelet's `..data`, hidden files, paths, odd bytes, too long. */
const REFUSED = [".hidden", "..data", "...", ".", "..", "", "a/b", "../x", "a\u0000b", "é", "a b", "x".repeat(254)];
const ACCEPTED = ["password", "tls.crt", "a..b", "db_user-1", "x.", "-x", "x".repeat(253)];

describe("unit: one file-name rule for annotations, SecretBinding items and the agent's --files", () => {
  it("accepts plain names and refuses hidden, '..'-prefixed, path-like and over-long ones", () => {
    for (const name of ACCEPTED) expect(isFileName(name), name).to.equal(true);
    for (const name of REFUSED) expect(isFileName(name), JSON.stringify(name)).to.equal(false);
  });

  it("is the rule the webhook applies to every per-file annotation", () => {
    for (const kind of ["secret", "secrets", "format", "template", "file-mode"]) {
      for (const name of REFUSED.filter((n) => n !== "")) {
        const parsed = parseInjection({
          "strongroom.io/inject": "true",
          "strongroom.io/inject-mode": "agent",
          [`strongroom.io/${kind}.${name}`]: "x",
        });
        expect(
          "problems" in parsed && parsed.problems.some((p) => p.includes("not a valid file name")),
          `${kind}.${JSON.stringify(name)}`,
        ).to.equal(true);
      }
    }
    expect(
      "problems" in parseInjection({ "strongroom.io/inject": "true", "strongroom.io/secret.tls.crt": "x" }),
    ).to.equal(false);
  });

  it("is the rule the agent applies to --files", () => {
    for (const name of REFUSED)
      expect(() => parseAgentFiles(JSON.stringify({ [name]: { secret: "x" } })), JSON.stringify(name)).to.throw(
        /not a valid file name/,
      );
    expect(parseAgentFiles(JSON.stringify({ "tls.crt": { secret: "x" } }))).to.have.length(1);
  });

  it("is the rule the SecretBinding CRD's schema enforces on items[].path", () => {
    const crd = parse(readFileSync("crds/strongroom.io_secretbindings.yaml", "utf8"));
    const pattern = new RegExp(
      crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.items.items.properties.path.pattern,
    );
    for (const name of [...ACCEPTED, ...REFUSED])
      expect(pattern.test(name), JSON.stringify(name)).to.equal(isFileName(name));
  });
});
