/**
 * Atomic file writes: the new content goes to a temporary file in the same directory, is
 * flushed, given its mode, then renamed over the old one. rename(2) within one directory
 * is atomic, so a reader sees the old file or the new one, never a partial one.
 */
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { join } from "node:path";

export const DEFAULT_FILE_MODE = 0o444;

export async function writeFileAtomically(
  dir: string,
  name: string,
  content: Buffer,
  mode = DEFAULT_FILE_MODE,
): Promise<void> {
  const target = join(dir, name);
  const temp = join(dir, `.${name}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temp, "wx", 0o600);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(temp, { force: true });
    throw err;
  } finally {
    await handle.close().catch(() => undefined);
  }
  try {
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
