/** Root hooks of the client tier: after the last client, print the table (and keep a copy in the cache). */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CACHE, failures, removeTempDirs, table } from "./support.js";

export const mochaHooks = {
  afterAll(): void {
    removeTempDirs();
    const text = table();
    const failed = failures();
    console.log(
      `\nStrongroom with CyberArk's real clients (npm run test:clients)\n\n${text}\n${failed ? `\nfailed checks:\n${failed}\n` : ""}`,
    );
    mkdirSync(CACHE, { recursive: true });
    writeFileSync(join(CACHE, "last-table.md"), `${text}\n${failed ? `\nfailed checks:\n${failed}\n` : ""}`);
  },
};
