/**
 * The webhook's serving certificate, made by the server instead of the chart: a CA and a
 * certificate for the webhook's Service, kept in a Secret created when absent, and the CA
 * written into the MutatingWebhookConfiguration's caBundle. The chart renders no caBundle, so
 * re-applying the chart (helm upgrade, Argo CD, Flux) leaves the patched value alone.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { issueServingCertificate, serviceDnsNames, type ServingCertificate } from "./certificates.js";
import { BootstrapError, ensureSecret, NotReadyError, type SecretData, type SecretStore } from "./secret-store.js";

export interface WebhookEntry {
  name: string;
  caBundle: string | undefined;
  service: { name: string; namespace: string } | undefined;
  /** clientConfig.url, when the API server calls the webhook by URL instead of a Service. */
  url?: string | undefined;
}

/** The slice of the admissionregistration API this needs (injected; see kube-webhook-config.ts). */
export interface WebhookConfigApi {
  /** undefined when the configuration does not exist. */
  read(name: string): Promise<WebhookEntry[] | undefined>;
  /** Sets caBundle on the webhooks at these indexes, guarded by each one's name. */
  setCaBundle(name: string, entries: { index: number; name: string }[], caBundle: string): Promise<void>;
}

function problemWith(data: SecretData): string | undefined {
  const [ca, crt, key] = [data["ca.crt"], data["tls.crt"], data["tls.key"]];
  if (!ca || !crt || !key) return "lacks ca.crt, tls.crt or tls.key";
  try {
    const cert = new X509Certificate(crt);
    if (!cert.checkPrivateKey(createPrivateKey(key))) return "its tls.key does not match tls.crt";
    if (!cert.verify(new X509Certificate(ca).publicKey)) return "its tls.crt is not signed by its ca.crt";
  } catch (err) {
    return `holds an unreadable certificate or key (${(err as Error).message})`;
  }
  return undefined;
}

/** The names the API server calls the webhook by: its Service's, or its URL's host (chart value webhook.url). */
async function webhookNames(
  api: WebhookConfigApi,
  configName: string,
): Promise<{ caName: string; dnsNames: string[] }> {
  const entries = await api.read(configName);
  if (!entries)
    throw new NotReadyError(
      `MutatingWebhookConfiguration ${configName} not found (it names the Service the certificate is for)`,
    );
  const service = entries.find((e) => e.service)?.service;
  if (service) return { caName: `${service.name}-ca`, dnsNames: serviceDnsNames(service.name, service.namespace) };
  const url = entries.find((e) => e.url)?.url;
  if (!url)
    throw new BootstrapError(
      `MutatingWebhookConfiguration ${configName} has no webhook with clientConfig.service or clientConfig.url`,
    );
  // URL.hostname keeps an IPv6 address in brackets; a SAN holds it bare.
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, "$1");
  return { caName: `${configName}-ca`, dnsNames: [host] };
}

/** Writes the CA into every webhook of the configuration whose caBundle differs; true if it patched. */
export async function ensureCaBundle(api: WebhookConfigApi, configName: string, caPem: string): Promise<boolean> {
  const wanted = Buffer.from(caPem).toString("base64");
  const entries = await api.read(configName);
  if (!entries) throw new NotReadyError(`MutatingWebhookConfiguration ${configName} not found`);
  const stale = entries.flatMap((e, index) => (e.caBundle === wanted ? [] : [{ index, name: e.name }]));
  if (stale.length === 0) return false;
  await api.setCaBundle(configName, stale, wanted);
  return true;
}

export async function ensureWebhookTls(
  store: SecretStore,
  api: WebhookConfigApi,
  opts: { secretName: string; configName: string; validityDays: number },
): Promise<{ tls: ServingCertificate; created: boolean; patched: boolean }> {
  const { data, created } = await ensureSecret(
    store,
    opts.secretName,
    { component: "webhook-tls", type: "kubernetes.io/tls" },
    async () => {
      const names = await webhookNames(api, opts.configName);
      const issued = issueServingCertificate({ ...names, validityDays: opts.validityDays });
      return {
        "ca.crt": Buffer.from(issued.caPem),
        "tls.crt": Buffer.from(issued.certPem),
        "tls.key": Buffer.from(issued.keyPem),
      };
    },
    problemWith,
  );
  const tls = {
    caPem: data["ca.crt"]!.toString(),
    certPem: data["tls.crt"]!.toString(),
    keyPem: data["tls.key"]!.toString(),
  };
  const patched = await ensureCaBundle(api, opts.configName, tls.caPem);
  return { tls, created, patched };
}
