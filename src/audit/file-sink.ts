/**
 * `--audit-file`: JSON lines appended to a file opened O_APPEND with mode 0600.
 *
 * Group commit: records that arrive while a write is in flight are joined into the next
 * single write, so concurrent requests cost one write() each round, not one each. A
 * caller's promise resolves only after the write() holding its lines has returned (the
 * bytes are with the operating system; no fsync). Any write error (disk full, I/O error)
 * rejects every caller of that round, and their requests fail closed.
 *
 * O_APPEND makes `logrotate … copytruncate` safe: the next write lands at the new end.
 */
import { open, type FileHandle } from "node:fs/promises";
import type { AuditRecord, AuditSink } from "./audit.js";

interface Waiter {
  text: string;
  done: (failure?: { err: unknown }) => void;
}

export class FileAuditSink implements AuditSink {
  readonly #handle: FileHandle;
  #queue: Waiter[] = [];
  #writing = false;
  /** A write that failed part-way left a partial line: start the next one on a fresh line. */
  #partial = false;

  private constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  /** Opens (creating with mode 0600) for appending; a regular file with wider permissions is narrowed to 0600. */
  static async open(path: string): Promise<FileAuditSink> {
    const handle = await open(path, "a", 0o600);
    try {
      const stat = await handle.stat();
      if (stat.isFile() && (stat.mode & 0o777) !== 0o600) await handle.chmod(0o600);
    } catch (err) {
      await handle.close();
      throw err;
    }
    return new FileAuditSink(handle);
  }

  write(records: readonly AuditRecord[]): Promise<void> {
    const text = records.map((r) => JSON.stringify({ type: "audit", ...r }) + "\n").join("");
    return new Promise((resolve, reject) => {
      this.#queue.push({
        text,
        done: (failure) =>
          failure ? reject(failure.err instanceof Error ? failure.err : new Error("audit write failed")) : resolve(),
      });
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0) {
      const round = this.#queue;
      this.#queue = [];
      const bytes = Buffer.from((this.#partial ? "\n" : "") + round.map((w) => w.text).join(""));
      let written = 0;
      try {
        while (written < bytes.length) {
          const { bytesWritten } = await this.#handle.write(bytes, written);
          if (bytesWritten === 0) throw new Error("audit file accepted no bytes");
          written += bytesWritten;
        }
        this.#partial = false;
        for (const w of round) w.done();
      } catch (err) {
        this.#partial ||= written > 0;
        for (const w of round) w.done({ err });
      }
    }
    this.#writing = false;
  }

  async close(): Promise<void> {
    while (this.#writing) await new Promise((r) => setImmediate(r));
    await this.#handle.close();
  }
}
