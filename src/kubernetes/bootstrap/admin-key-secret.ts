/**
 * The initial admin API key, written to a Secret in the server's namespace instead of the pod
 * log (as Argo CD's `argocd-initial-admin-secret`). Called inside the transaction that creates
 * the account, so the account exists only if the key was stored.
 */
import type { SecretStore } from "./secret-store.js";

export async function saveInitialAdminKey(
  store: SecretStore,
  name: string,
  account: string,
  apiKey: string,
): Promise<"created" | "replaced"> {
  const data = { account: Buffer.from(account), login: Buffer.from("admin"), "api-key": Buffer.from(apiKey) };
  const meta = {
    component: "initial-admin",
    annotations: {
      "strongroom.io/note": "Initial admin API key. Read it once, store it safely, then delete this Secret.",
    },
  };
  if (await store.create(name, data, meta)) return "created";
  // The account did not exist until now, so a key already in this Secret cannot authenticate
  // (left by an earlier database): replacing it loses nothing.
  await store.replace(name, data, meta);
  return "replaced";
}
