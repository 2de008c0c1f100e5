/**
 * A private CA and one serving certificate signed by it, for the admission webhook (and the
 * REST API, which shares the certificate). node-forge builds the X.509 structures; the RSA
 * keys come from node:crypto (native, ~100× faster than forge's JavaScript key generation).
 * The CA's private key is discarded after signing: nothing else is ever signed with it.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { isIP } from "node:net";
import forge from "node-forge";

export interface ServingCertificate {
  caPem: string;
  certPem: string;
  keyPem: string;
}

const DAY_MS = 86_400_000;

function keyPair(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey),
    privateKey: forge.pki.privateKeyFromPem(privateKey),
    privatePem: privateKey,
  };
}

function baseCertificate(
  publicKey: forge.pki.PublicKey,
  commonName: string,
  validityDays: number,
  now: Date,
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // A positive 128-bit serial (leading byte below 0x80), as RFC 5280 asks.
  cert.serialNumber = "01" + randomBytes(16).toString("hex");
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60_000); // tolerate clock skew
  cert.validity.notAfter = new Date(now.getTime() + validityDays * DAY_MS);
  cert.setSubject([{ name: "commonName", value: commonName }]);
  return cert;
}

export function issueServingCertificate(opts: {
  caName: string;
  dnsNames: string[];
  validityDays: number;
  now?: Date;
}): ServingCertificate {
  const now = opts.now ?? new Date();
  const ca = keyPair();
  const caCert = baseCertificate(ca.publicKey, opts.caName, opts.validityDays, now);
  caCert.setIssuer(caCert.subject.attributes);
  caCert.setExtensions([
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  caCert.sign(ca.privateKey, forge.md.sha256.create());

  const leaf = keyPair();
  const cert = baseCertificate(leaf.publicKey, opts.dnsNames[0]!, opts.validityDays, now);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    // An IP address (a webhook called by URL, e.g. https://127.0.0.1:8443) must be an IP SAN: TLS
    // clients never match an IP against a DNS name.
    {
      name: "subjectAltName",
      altNames: opts.dnsNames.map((value) => (isIP(value) ? { type: 7, ip: value } : { type: 2, value })),
    },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(ca.privateKey, forge.md.sha256.create());
  return {
    caPem: forge.pki.certificateToPem(caCert),
    certPem: forge.pki.certificateToPem(cert),
    keyPem: leaf.privatePem,
  };
}

/** The DNS names a Service is reached by from inside the cluster. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    `${service}.${namespace}.svc`,
    `${service}.${namespace}`,
    service,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}
