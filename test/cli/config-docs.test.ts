import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderConfigurationDocs } from "../../src/cli/config-docs.js";
import { SETTINGS } from "../../src/config.js";
import { AGENT_SETTINGS } from "../../src/agent/agent-config.js";

describe("docs/configuration.md", () => {
  const inTree = readFileSync(join(import.meta.dirname, "../../docs/configuration.md"), "utf8");

  it("is what the settings tables render (else run: npm run docs:config)", () => {
    expect(inTree === renderConfigurationDocs(), "docs/configuration.md is stale: run npm run docs:config").to.equal(
      true,
    );
  });

  it("lists every server and agent flag with its environment twin", () => {
    for (const s of [...Object.values(SETTINGS), ...Object.values(AGENT_SETTINGS)]) {
      expect(inTree).to.contain(`\`--${s.flag}`);
      expect(inTree).to.contain(`\`${s.env}\``);
    }
    for (const flag of ["--max-watchers", "--previous-data-keys", "STRONGROOM_DATA_KEY"])
      expect(inTree).to.contain(flag);
  });
});
