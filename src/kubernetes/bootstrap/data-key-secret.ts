/**
 * The data key kept in a Kubernetes Secret that the server creates on first start. The chart
 * renders no key (so `helm template`, Argo CD and Flux render the same bytes every time), and
 * nothing ever overwrites the Secret once it exists.
 */
import { generateDataKey } from "../../crypto/aead.js";
import { BootstrapError, ensureSecret, type SecretStore } from "./secret-store.js";

export const DATA_KEY_FIELD = "data-key";

export interface DataKeyOptions {
  /**
   * False when the database already holds data: a missing Secret then means a lost key, and
   * a new one would only make the server refuse to start later with a less helpful message.
   */
  mayCreate: () => Promise<boolean>;
}

function problemWith(value: Buffer | undefined): string | undefined {
  if (!value) return `has no '${DATA_KEY_FIELD}' entry`;
  return Buffer.from(value.toString("utf8").trim(), "base64").length === 32
    ? undefined
    : `its '${DATA_KEY_FIELD}' is not the base64 of 32 bytes`;
}

/** The base64 data key from the named Secret, created when absent. */
export async function ensureDataKeySecret(
  store: SecretStore,
  name: string,
  opts: DataKeyOptions,
): Promise<{ dataKey: string; created: boolean }> {
  const { data, created } = await ensureSecret(
    store,
    name,
    {
      component: "data-key",
      annotations: {
        "strongroom.io/warning":
          "Losing this key loses every stored secret. Back it up; never let a GitOps tool manage it.",
      },
    },
    async () => {
      if (!(await opts.mayCreate())) {
        throw new BootstrapError(
          `the data-key Secret ${name} is missing but the database already holds encrypted data: restore the Secret from your backup (a new key cannot read the data)`,
        );
      }
      return { [DATA_KEY_FIELD]: Buffer.from(generateDataKey()) };
    },
    (d) => problemWith(d[DATA_KEY_FIELD]),
  );
  return { dataKey: data[DATA_KEY_FIELD]!.toString("utf8").trim(), created };
}
