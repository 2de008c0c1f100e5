/**
 * The injector's decision for one pod: a JSONPatch that adds a projected volume (our
 * managed Secret, with items and file modes when grouped files, env or file-mode are used,
 * and/or a SecretBinding's Secret), read-only mounts and env secretKeyRefs in the chosen
 * containers, the managed label and the Secret-name annotation. Pure: no I/O.
 */
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import {
  MANAGED_LABEL,
  parseInjection,
  SECRET_NAME_ANNOTATION,
  VOLUME_NAME,
  wantsInjection,
} from "../injection/annotations.js";
import { needsVolumeItems, volumeItems } from "../injection/secret-layout.js";
import { podSecretName } from "../injection/secret-name.js";
import { agentPatch, type AgentInjectionOptions } from "./agent-patch.js";
import { envPatch } from "./env-patch.js";

export type PatchOperation = { op: "add" | "replace"; path: string; value: unknown };
export type Mutation =
  | { kind: "skip" }
  | { kind: "reject"; message: string }
  | { kind: "patch"; patch: PatchOperation[]; secretName: string | undefined };

const pointer = (s: string): string => s.replaceAll("~", "~0").replaceAll("/", "~1");

export function mutatePod(pod: V1Pod, namespace: string, agent?: AgentInjectionOptions): Mutation {
  const annotations = pod.metadata?.annotations ?? {};
  if (!wantsInjection(annotations)) return { kind: "skip" };
  const spec = parseInjection(annotations);
  if ("problems" in spec)
    return { kind: "reject", message: `strongroom: invalid annotations: ${spec.problems.join("; ")}` };

  const containers = pod.spec?.containers ?? [];
  const initContainers = pod.spec?.initContainers ?? [];
  const all = [...containers, ...initContainers].map((c) => c.name);
  const chosen = spec.containers ?? all;
  const unknown = chosen.filter((c) => !all.includes(c));
  if (unknown.length)
    return {
      kind: "reject",
      message: `strongroom: strongroom.io/containers names no such container: ${unknown.join(", ")}`,
    };
  for (const c of [...containers, ...initContainers]) {
    if (c.volumeMounts?.some((m) => m.name === VOLUME_NAME && m.subPath)) {
      return {
        kind: "reject",
        message: `strongroom: container '${c.name}' mounts ${VOLUME_NAME} with subPath, which never receives updates; mount the whole volume`,
      };
    }
  }

  if (spec.rendered.mode !== "secret") {
    if (!agent)
      return {
        kind: "reject",
        message: `strongroom: inject-mode ${spec.rendered.mode} needs the webhook's agent settings (--agent-image, --agent-server-url)`,
      };
    return { kind: "patch", patch: agentPatch(pod, spec, namespace, chosen, agent), secretName: undefined };
  }
  const secretName = podSecretName(namespace, spec, pod.spec?.serviceAccountName);
  const patch: PatchOperation[] = [];
  const labels = pod.metadata?.labels;
  if (!labels) patch.push({ op: "add", path: "/metadata/labels", value: { [MANAGED_LABEL]: "true" } });
  else if (labels[MANAGED_LABEL] !== "true")
    patch.push({ op: "add", path: `/metadata/labels/${pointer(MANAGED_LABEL)}`, value: "true" });
  if (secretName && annotations[SECRET_NAME_ANNOTATION] !== secretName) {
    patch.push({ op: "add", path: `/metadata/annotations/${pointer(SECRET_NAME_ANNOTATION)}`, value: secretName });
  }

  // Idempotent: a re-invoked webhook finds its volume and adds nothing twice.
  const volumes = pod.spec?.volumes;
  const withFiles = secretName !== undefined && spec.rendered.files.length > 0; // env-only pods mount no files
  if (!withFiles && !spec.binding) return withEnv(patch, pod, chosen, spec.rendered.env, secretName);
  if (!volumes?.some((v) => v.name === VOLUME_NAME)) {
    const items = needsVolumeItems(spec.rendered) ? { items: volumeItems(spec.rendered) } : {};
    const sources = [
      ...(withFiles ? [{ secret: { name: secretName, ...items, optional: false } }] : []),
      ...(spec.binding ? [{ secret: { name: spec.binding, optional: false } }] : []),
    ];
    const volume = { name: VOLUME_NAME, projected: { sources, defaultMode: 0o440 } };
    patch.push(
      volumes
        ? { op: "add", path: "/spec/volumes/-", value: volume }
        : { op: "add", path: "/spec/volumes", value: [volume] },
    );
  }
  const mount = { name: VOLUME_NAME, mountPath: spec.mountPath, readOnly: true };
  const addMounts = (list: V1Container[], field: "containers" | "initContainers"): void => {
    list.forEach((c, i) => {
      if (!chosen.includes(c.name) || c.volumeMounts?.some((m) => m.name === VOLUME_NAME)) return;
      patch.push(
        c.volumeMounts
          ? { op: "add", path: `/spec/${field}/${i}/volumeMounts/-`, value: mount }
          : { op: "add", path: `/spec/${field}/${i}/volumeMounts`, value: [mount] },
      );
    });
  };
  addMounts(containers, "containers");
  addMounts(initContainers, "initContainers");
  return withEnv(patch, pod, chosen, spec.rendered.env, secretName);
}

function withEnv(
  patch: PatchOperation[],
  pod: V1Pod,
  chosen: string[],
  env: Record<string, string>,
  secretName: string | undefined,
): Mutation {
  if (secretName && Object.keys(env).length) {
    for (const [field, list] of [
      ["containers", pod.spec?.containers ?? []],
      ["initContainers", pod.spec?.initContainers ?? []],
    ] as const) {
      const ops = envPatch(list, field, chosen, env, secretName);
      if (typeof ops === "string") return { kind: "reject", message: `strongroom: ${ops}` };
      patch.push(...ops);
    }
  }
  return { kind: "patch", patch, secretName };
}
