// tsc writes every file 0644, shebang or not. A bin that is not executable works only when npm
// happens to link it (npm ci does not link the root package's own bins; `npx` in a fresh
// checkout may exec it directly and fail with "Permission denied"). So the build marks each
// file package.json names under "bin" as executable itself.
import { chmodSync, readFileSync } from "node:fs";
import { URL } from "node:url";

const { bin } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
for (const file of Object.values(bin)) chmodSync(new URL(`../${file}`, import.meta.url), 0o755);
