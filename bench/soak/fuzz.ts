/**
 * Fuzz at scale for `npm run soak`: the same seeded hostile requests as test/api/fuzz.test.ts,
 * many more of them, against the soak's real server once its faults have healed.
 */
import { generateRequest, rng } from "../../test/support/fuzz-gen.js";
import { rawRequest } from "../../test/support/raw-request.js";
import type { Target } from "./load.js";

export interface FuzzResult {
  cases: number;
  answered: number;
  serverErrors: string[];
  hangs: string[];
}

export async function fuzzAtScale(target: Target, cases: number, seed: number, concurrency = 8): Promise<FuzzResult> {
  const r = rng(seed);
  const result: FuzzResult = { cases, answered: 0, serverErrors: [], hangs: [] };
  let generated = 0;
  const worker = async (): Promise<void> => {
    while (generated < cases) {
      const index = generated++;
      const c = generateRequest(r, target.account, { admin: target.token, host: target.token });
      try {
        const res = await rawRequest(target.url, c.method, c.path, {
          headers: c.headers,
          ...(c.body !== undefined ? { body: c.body } : {}),
          timeoutMs: 15_000,
        });
        result.answered++;
        if (res.status >= 500)
          result.serverErrors.push(`#${index} ${c.method} ${c.path.slice(0, 120)} → ${res.status}`);
      } catch (err) {
        // Node refuses some requests at the socket (431, a broken request line); only a hang counts.
        if (/within/.test((err as Error).message)) result.hangs.push(`#${index} ${c.method} ${c.path.slice(0, 120)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return result;
}
