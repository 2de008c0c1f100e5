/** `npm run docs:config` (tsx): writes docs/configuration.md from the settings tables (src/cli/config-docs.ts). Plain JS: lint needs no tsconfig entry for scripts/. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { renderConfigurationDocs } from "../src/cli/config-docs.js";

const target = join(import.meta.dirname, "../docs/configuration.md");
writeFileSync(target, renderConfigurationDocs());
process.stdout.write(`wrote ${target}\n`);
