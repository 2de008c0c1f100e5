#!/usr/bin/env node
/**
 * `strongroom-agent` — the in-pod agent's own entry point (package.json `bin`), the same as
 * `strongroom agent`. It loads only what the agent needs: no Express, pg, policy, audit or
 * Kubernetes client (test/agent/import-graph.test.ts keeps it so), which is what makes its
 * start-up and memory small (bench/README.md, agents). Flag errors: one line, exit 2.
 */
import { ConfigError } from "../settings-table.js";
import { agentCommand } from "./agent-command.js";

agentCommand(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`strongroom-agent: ${message.replace(/\s*\n\s*/g, " ")}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  },
);
