/**
 * Certificates rotated on disk reach new TLS connections without a restart. cert-manager
 * renews a certificate into its Secret; the kubelet swaps the mounted volume's `..data`
 * symlink, so we watch the directories that hold the files (a watch on the file itself
 * would follow the old inode), and re-read on a timer as well, for file systems where
 * watching does not work. A pair that does not load (half written, key and certificate
 * mismatched) is refused with a warning: the current certificate keeps serving.
 * Connections already open keep the certificate they were made with.
 */
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync, watch, type FSWatcher } from "node:fs";
import { dirname } from "node:path";
import { createSecureContext } from "node:tls";
import type { Logger } from "pino";

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
}

/** What can take a new certificate: node's https.Server and tls.Server both can. */
export interface SecureContextTarget {
  setSecureContext(options: TlsPair): void;
}

export interface TlsReloaderOptions {
  /** Re-read the files this often even without a file-system event. */
  intervalMs?: number;
  /** Wait for a burst of events (two files, a symlink swap) to settle before reading. */
  settleMs?: number;
  onReload?: (outcome: "applied" | "refused") => void;
}

const digest = (pair: TlsPair): string =>
  createHash("sha256").update(pair.cert).update("\0").update(pair.key).digest("hex");

export class TlsReloader {
  #current: string;
  #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #settle: NodeJS.Timeout | undefined;

  constructor(
    private readonly files: TlsFiles,
    private readonly targets: SecureContextTarget[],
    private readonly log: Logger,
    initial: TlsPair,
    private readonly opts: TlsReloaderOptions = {},
  ) {
    this.#current = digest(initial);
  }

  start(): void {
    for (const dir of new Set([dirname(this.files.certFile), dirname(this.files.keyFile)])) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.#soon());
        watcher.on("error", (err) =>
          this.log.warn({ dir, err: err.message }, "cannot watch the TLS directory; re-reading on a timer only"),
        );
        this.#watchers.push(watcher);
      } catch (err) {
        this.log.warn(
          { dir, err: (err as Error).message },
          "cannot watch the TLS directory; re-reading on a timer only",
        );
      }
    }
    this.#timer = setInterval(() => this.reload(), this.opts.intervalMs ?? 60_000);
    this.#timer.unref();
  }

  stop(): void {
    for (const watcher of this.#watchers) watcher.close();
    this.#watchers = [];
    clearInterval(this.#timer);
    clearTimeout(this.#settle);
  }

  /** Read the files; apply them if they changed and load. True when a new pair was applied. */
  reload(): boolean {
    let pair: TlsPair;
    try {
      pair = { cert: readFileSync(this.files.certFile), key: readFileSync(this.files.keyFile) };
    } catch (err) {
      return this.#refuse(`cannot read: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
    const next = digest(pair);
    if (next === this.#current) return false;
    let certificate: X509Certificate;
    try {
      createSecureContext(pair); // throws on a mismatched, partial or unparsable pair
      certificate = new X509Certificate(pair.cert);
    } catch (err) {
      return this.#refuse((err as Error).message);
    }
    for (const target of this.targets) target.setSecureContext(pair);
    this.#current = next;
    this.opts.onReload?.("applied");
    this.log.info(
      { subject: certificate.subject, validTo: certificate.validTo, fingerprint256: certificate.fingerprint256 },
      "TLS certificate reloaded",
    );
    return true;
  }

  #refuse(reason: string): boolean {
    this.opts.onReload?.("refused");
    this.log.warn(
      { certFile: this.files.certFile, keyFile: this.files.keyFile, reason },
      "TLS certificate files not loaded; keeping the current certificate",
    );
    return false;
  }

  #soon(): void {
    clearTimeout(this.#settle);
    this.#settle = setTimeout(() => this.reload(), this.opts.settleMs ?? 250);
    this.#settle.unref();
  }
}
