/**
 * A Strongroom for poking at a real client by hand: `npx tsx test/clients/serve.ts [--tls] [--account A]`
 * prints the URL, the admin key (and the CA file with --tls) and runs until Ctrl-C.
 */
import { startTestPostgres, stopTestPostgres } from "../support/postgres.js";
import { startTestServer } from "../support/server.js";
import { selfSignedCertificate } from "../support/tls.js";

const args = process.argv.slice(2);
const account = args.includes("--account") ? args[args.indexOf("--account") + 1]! : "conjur";
const tls = args.includes("--tls") ? selfSignedCertificate() : undefined;
await startTestPostgres();
const server = await startTestServer({
  account,
  flags: { ...(tls ? { "tls-cert": tls.certFile, "tls-key": tls.keyFile } : {}) },
  env: { STRONGROOM_AUTHENTICATORS: process.env.STRONGROOM_AUTHENTICATORS ?? "authn" },
});
console.log(JSON.stringify({ url: server.url, account, adminKey: server.adminKey, ca: tls?.certFile }));
const stop = async (): Promise<void> => {
  await server.close();
  await stopTestPostgres();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
