/**
 * `env.<NAME>` in Secret mode: each selected container gets `env` entries that read the
 * managed Secret's `env.<NAME>` key (secret-layout.ts). The kubelet reads them once, at
 * container start: a rotation reaches files, never a running process's environment.
 */
import type { V1Container, V1EnvVar } from "@kubernetes/client-node";
import { envSecretKey } from "../injection/secret-layout.js";
import type { PatchOperation } from "./mutate-pod.js";

const envVar = (name: string, secretName: string): V1EnvVar => ({
  name,
  valueFrom: { secretKeyRef: { name: secretName, key: envSecretKey(name), optional: false } },
});

const ours = (existing: V1EnvVar, wanted: V1EnvVar): boolean =>
  JSON.stringify(existing.valueFrom?.secretKeyRef) === JSON.stringify(wanted.valueFrom?.secretKeyRef) &&
  existing.value === undefined;

/** Patch operations, or the reason to refuse (a container already sets one of the names itself). */
export function envPatch(
  list: V1Container[],
  field: "containers" | "initContainers",
  chosen: string[],
  env: Record<string, string>,
  secretName: string,
): PatchOperation[] | string {
  const names = Object.keys(env).sort();
  const patch: PatchOperation[] = [];
  for (const [i, c] of list.entries()) {
    if (!chosen.includes(c.name) || !names.length) continue;
    const add: V1EnvVar[] = [];
    for (const name of names) {
      const wanted = envVar(name, secretName);
      const existing = c.env?.find((e) => e.name === name);
      if (!existing) add.push(wanted);
      else if (!ours(existing, wanted))
        return `container '${c.name}' already sets env ${name}; remove it or the strongroom.io/env.${name} annotation`;
    }
    if (!add.length) continue; // re-invoked webhook: nothing twice
    if (c.env) for (const e of add) patch.push({ op: "add", path: `/spec/${field}/${i}/env/-`, value: e });
    else patch.push({ op: "add", path: `/spec/${field}/${i}/env`, value: add });
  }
  return patch;
}
