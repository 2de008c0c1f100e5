/**
 * The injector's decision for one pod: a JSONPatch that adds a projected volume (our
 * managed Secret and/or a SecretBinding's Secret), read-only mounts in the chosen
 * containers, the managed label and the Secret-name annotation. Pure: no I/O.
 */
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { MANAGED_LABEL, parseInjection, SECRET_NAME_ANNOTATION, VOLUME_NAME, wantsInjection } from "../injection/annotations.js";
import { identityKey, managedSecretName } from "../injection/secret-name.js";
import { agentPatch, type AgentInjectionOptions } from "./agent-patch.js";

export type PatchOperation = { op: "add" | "replace"; path: string; value: unknown };
export type Mutation = { kind: "skip" } | { kind: "reject"; message: string } | { kind: "patch"; patch: PatchOperation[]; secretName: string | undefined };

const pointer = (s: string): string => s.replaceAll("~", "~0").replaceAll("/", "~1");

export function mutatePod(pod: V1Pod, namespace: string, agent?: AgentInjectionOptions): Mutation {
  const annotations = pod.metadata?.annotations ?? {};
  if (!wantsInjection(annotations)) return { kind: "skip" };
  const spec = parseInjection(annotations);
  if ("problems" in spec) return { kind: "reject", message: `strongroom: invalid annotations: ${spec.problems.join("; ")}` };

  const containers = pod.spec?.containers ?? [];
  const initContainers = pod.spec?.initContainers ?? [];
  const all = [...containers, ...initContainers].map((c) => c.name);
  const chosen = spec.containers ?? all;
  const unknown = chosen.filter((c) => !all.includes(c));
  if (unknown.length) return { kind: "reject", message: `strongroom: strongroom.io/containers names no such container: ${unknown.join(", ")}` };
  for (const c of [...containers, ...initContainers]) {
    if (c.volumeMounts?.some((m) => m.name === VOLUME_NAME && m.subPath)) {
      return { kind: "reject", message: `strongroom: container '${c.name}' mounts ${VOLUME_NAME} with subPath, which never receives updates; mount the whole volume` };
    }
  }

  if (spec.rendered.mode !== "secret") {
    if (!agent) return { kind: "reject", message: `strongroom: inject-mode ${spec.rendered.mode} needs the webhook's agent settings (--agent-image, --agent-server-url)` };
    return { kind: "patch", patch: agentPatch(pod, spec, namespace, chosen, agent), secretName: undefined };
  }
  const groups = spec.rendered.files.filter((f) => f.format !== undefined).map((f) => f.file);
  if (groups.length || Object.keys(spec.rendered.env).length) {
    return { kind: "reject", message: `strongroom: rendered files (${groups.join(", ") || "none"}) and env.<NAME> are served by inject-mode agent or init in this version; in inject-mode secret use secret.<file>` };
  }
  const secretName = Object.keys(spec.files).length ? managedSecretName(namespace, identityKey(spec, pod.spec?.serviceAccountName), spec.files) : undefined;
  const patch: PatchOperation[] = [];
  const labels = pod.metadata?.labels;
  if (!labels) patch.push({ op: "add", path: "/metadata/labels", value: { [MANAGED_LABEL]: "true" } });
  else if (labels[MANAGED_LABEL] !== "true") patch.push({ op: "add", path: `/metadata/labels/${pointer(MANAGED_LABEL)}`, value: "true" });
  if (secretName && annotations[SECRET_NAME_ANNOTATION] !== secretName) {
    patch.push({ op: "add", path: `/metadata/annotations/${pointer(SECRET_NAME_ANNOTATION)}`, value: secretName });
  }

  // Idempotent: a re-invoked webhook finds its volume and adds nothing twice.
  const volumes = pod.spec?.volumes;
  if (!volumes?.some((v) => v.name === VOLUME_NAME)) {
    const sources = [
      ...(secretName ? [{ secret: { name: secretName, optional: false } }] : []),
      ...(spec.binding ? [{ secret: { name: spec.binding, optional: false } }] : []),
    ];
    const volume = { name: VOLUME_NAME, projected: { sources, defaultMode: 0o440 } };
    patch.push(volumes ? { op: "add", path: "/spec/volumes/-", value: volume } : { op: "add", path: "/spec/volumes", value: [volume] });
  }
  const mount = { name: VOLUME_NAME, mountPath: spec.mountPath, readOnly: true };
  const addMounts = (list: V1Container[], field: "containers" | "initContainers"): void => {
    list.forEach((c, i) => {
      if (!chosen.includes(c.name) || c.volumeMounts?.some((m) => m.name === VOLUME_NAME)) return;
      patch.push(c.volumeMounts ? { op: "add", path: `/spec/${field}/${i}/volumeMounts/-`, value: mount } : { op: "add", path: `/spec/${field}/${i}/volumeMounts`, value: [mount] });
    });
  };
  addMounts(containers, "containers");
  addMounts(initContainers, "initContainers");
  return { kind: "patch", patch, secretName };
}
