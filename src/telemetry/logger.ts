/** The pino logger. Secret values are never passed to it; request bodies are never logged. */
import { pino, type Logger } from "pino";

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: "strongroom" }, redact: ["req.headers.authorization", "headers.authorization"] }, destination);
}

export type { Logger };
