/**
 * `strongroom data-key generate | rotate`.
 * rotate: re-encrypt every stored value under STRONGROOM_DATA_KEY, decrypting the old ones
 * with STRONGROOM_PREVIOUS_DATA_KEYS, while servers keep serving. Progress on stderr, the
 * final count on stdout. Exit 0 when everything is under the new key, 1 when something is
 * left (rows it cannot decrypt), 2 for a flag or setting problem. Any interruption (Ctrl-C,
 * SIGTERM, kill -9) is safe: every batch is one statement; running again continues.
 */
import type { Config } from "../config.js";
import { generateDataKey } from "../crypto/aead.js";
import { stageKeyFileRotation } from "../crypto/data-key.js";
import { rotateDataKey, type RotationResult } from "../crypto/rotation.js";
import { createLogger } from "../telemetry/logger.js";
import { openStorage } from "./storage.js";

const PROGRESS_EVERY_MS = 1000;

export function generate(): number {
  process.stdout.write(generateDataKey() + "\n");
  return 0;
}

export async function rotate(config: Config): Promise<number> {
  const log = createLogger(config.logLevel, process.stderr);
  // Embedded storage with a generated key: the new key becomes the file's first (see stageKeyFileRotation).
  const staged =
    !config.databaseUrl && !config.dataKeySecret && config.dataKey
      ? await stageKeyFileRotation(config.dataDir, config.dataKey)
      : undefined;
  const { db, aead } = await openStorage(config, log, { attach: true });
  try {
    process.stderr.write(
      `Rotating to data key version ${aead.currentVersion} in batches of ${config.rotateBatchSize}\n`,
    );
    const lastPrinted = new Map<string, number>();
    const result = await rotateDataKey({
      db: db.pool,
      aead,
      batchSize: config.rotateBatchSize,
      onProgress: (label, count) => {
        if (Date.now() - (lastPrinted.get(label) ?? 0) < PROGRESS_EVERY_MS) return;
        lastPrinted.set(label, Date.now());
        process.stderr.write(`  ${label}: ${count} re-encrypted\n`);
      },
    });
    const code = report(result);
    if (code === 0 && staged) {
      await staged.finish();
      process.stdout.write(
        `The data key file in ${config.dataDir} now holds the new key; start the server as before.\n`,
      );
    }
    return code;
  } finally {
    await db.close();
  }
}

function report(result: RotationResult): number {
  const total = Object.values(result.reencrypted).reduce((a, b) => a + b, 0);
  const parts = Object.entries(result.reencrypted).map(([label, n]) => `${label} ${n}`);
  process.stdout.write(
    `Re-encrypted ${total} values under data key version ${result.version} (${parts.join(", ")}).\n`,
  );
  if (result.remaining > 0) {
    for (const u of result.unreadable.slice(0, 10))
      process.stderr.write(`  cannot re-encrypt ${u.label} ${u.id}: ${u.reason}\n`);
    process.stderr.write(
      `strongroom: ${result.remaining} values are still under older data keys; give their keys in STRONGROOM_PREVIOUS_DATA_KEYS, or stop processes still running with an old STRONGROOM_DATA_KEY, and run again\n`,
    );
    return 1;
  }
  process.stdout.write(
    `Every encrypted value is under data key version ${result.version}; servers can now run without STRONGROOM_PREVIOUS_DATA_KEYS.\n`,
  );
  return 0;
}
