/** CLI glue of `strongroom agent`: flags/env → config, logger to stderr, signals. Returns the exit code or -1 (keep running). */
import { agentLog } from "./agent-log.js";
import { agentHelp, loadAgentConfig } from "./agent-config.js";
import { AgentFailure, runOnce, startAgent } from "./run-agent.js";

export async function agentCommand(argv: string[]): Promise<number> {
  const config = loadAgentConfig(argv);
  if (config === "help") {
    process.stdout.write(`Usage: strongroom agent [flags]\n\n${agentHelp()}\n`);
    return 0;
  }
  const log = agentLog(config.logLevel);
  if (config.once) {
    try {
      await runOnce(config, log);
      return 0;
    } catch (err) {
      if (err instanceof AgentFailure) {
        process.stderr.write(`strongroom agent: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  }
  const running = await startAgent(config, log);
  log.info({ files: config.files.length, dir: config.dir, healthPort: running.healthPort }, "strongroom agent running");
  const stop = (signal: string): void => {
    log.info({ signal }, "agent stopping");
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  return -1;
}
