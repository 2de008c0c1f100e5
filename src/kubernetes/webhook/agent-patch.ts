/**
 * The patch for inject-mode agent and init: no Secret at all. The agent runs from the
 * chart's image as a native sidecar (an init container with restartPolicy Always, whose
 * startup probe holds the application containers until the first write) or, for init, as
 * a plain init container with --once. Files live on a memory-backed emptyDir mounted
 * read-only into the application containers; only the agent gets the projected token.
 */
import type { V1Container, V1Pod, V1ResourceRequirements } from "@kubernetes/client-node";
import type { InjectionSpec } from "../injection/annotations.js";
import type { PatchOperation } from "./mutate-pod.js";

export interface AgentInjectionOptions {
  image: string;
  /** The server URL as pods reach it, e.g. https://strongroom.strongroom.svc:8080. */
  serverUrl: string;
  account: string;
  /** How the agent logs in: `authn-kubernetes` (no policy of its own) or `authn-jwt/<service-id>`. */
  authenticator: string;
  /** Audience of the projected service-account token. */
  audience: string;
  /** PEM CA the agent trusts for serverUrl (a private CA), passed in its env. */
  caPem?: string;
  /** The agent container's requests/limits (default: small, see AGENT_RESOURCES). */
  resources?: V1ResourceRequirements;
}

export const AGENT_CONTAINER = "strongroom-agent";
export const FILES_VOLUME = "strongroom-secrets";
export const TOKEN_VOLUME = "strongroom-token";
const TOKEN_DIR = "/var/run/secrets/strongroom-token";
export const AGENT_HEALTH_PORT = 8099;
/**
 * The lean agent in the image (`strongroom-agent`): src/agent/main.ts and what it imports,
 * bundled into one file by `npm run build` (docs/adr/0022-agent-bundle.md). It loads no server
 * module, so it starts in a fraction of the CPU and memory of `strongroom agent`.
 */
export const AGENT_COMMAND = ["node", "/app/dist/agent/strongroom-agent.cjs"];
/** The lean agent peaks at about 64 MB RSS at start-up (bench/README.md, agents): request that, limit at twice it. */
export const AGENT_RESOURCES: V1ResourceRequirements = {
  requests: { cpu: "10m", memory: "64Mi" },
  limits: { memory: "128Mi" },
};

export function agentContainer(
  spec: InjectionSpec,
  pod: V1Pod,
  namespace: string,
  options: AgentInjectionOptions,
): V1Container {
  const once = spec.rendered.mode === "init";
  const login = `host/${spec.host ?? `kubernetes/${namespace}/${pod.spec?.serviceAccountName || "default"}`}`;
  return {
    name: AGENT_CONTAINER,
    image: options.image,
    command: AGENT_COMMAND,
    ...(once ? { args: ["--once"] } : {}),
    ...(once ? {} : { restartPolicy: "Always" }),
    env: [
      { name: "STRONGROOM_URL", value: options.serverUrl },
      { name: "STRONGROOM_ACCOUNT", value: options.account },
      { name: "STRONGROOM_AUTHENTICATOR", value: options.authenticator },
      { name: "STRONGROOM_LOGIN", value: login },
      { name: "STRONGROOM_TOKEN_FILE", value: `${TOKEN_DIR}/token` },
      { name: "STRONGROOM_AGENT_DIR", value: spec.mountPath },
      { name: "STRONGROOM_AGENT_FILES", value: JSON.stringify(spec.rendered.annotationsByFile) },
      { name: "STRONGROOM_AGENT_HEALTH_PORT", value: String(AGENT_HEALTH_PORT) },
      ...(options.caPem ? [{ name: "STRONGROOM_CA_PEM", value: options.caPem }] : []),
    ],
    volumeMounts: [
      { name: FILES_VOLUME, mountPath: spec.mountPath },
      { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
    ],
    ...(once
      ? {}
      : {
          startupProbe: {
            httpGet: { path: "/health", port: AGENT_HEALTH_PORT },
            periodSeconds: 1,
            failureThreshold: 600,
          },
          livenessProbe: { httpGet: { path: "/health/live", port: AGENT_HEALTH_PORT }, periodSeconds: 10 },
        }),
    resources: options.resources ?? AGENT_RESOURCES,
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
    },
  };
}

/** Volumes, the agent container (first init container) and read-only mounts; idempotent by name. */
export function agentPatch(
  pod: V1Pod,
  spec: InjectionSpec,
  namespace: string,
  chosen: string[],
  options: AgentInjectionOptions,
): PatchOperation[] {
  const patch: PatchOperation[] = [];
  const volumes = pod.spec?.volumes ?? [];
  const wanted = [
    { name: FILES_VOLUME, emptyDir: { medium: "Memory" } },
    {
      name: TOKEN_VOLUME,
      projected: {
        sources: [{ serviceAccountToken: { audience: options.audience, expirationSeconds: 3600, path: "token" } }],
      },
    },
  ].filter((v) => !volumes.some((existing) => existing.name === v.name));
  if (wanted.length) {
    if (!pod.spec?.volumes) patch.push({ op: "add", path: "/spec/volumes", value: wanted });
    else for (const v of wanted) patch.push({ op: "add", path: "/spec/volumes/-", value: v });
  }
  const inits = pod.spec?.initContainers;
  if (!inits?.some((c) => c.name === AGENT_CONTAINER)) {
    const container = agentContainer(spec, pod, namespace, options);
    patch.push(
      inits
        ? { op: "add", path: "/spec/initContainers/0", value: container }
        : { op: "add", path: "/spec/initContainers", value: [container] },
    );
  }
  const mount = { name: FILES_VOLUME, mountPath: spec.mountPath, readOnly: true };
  const addMounts = (list: V1Container[], field: "containers" | "initContainers", offset: number): void => {
    list.forEach((c, i) => {
      if (
        c.name === AGENT_CONTAINER ||
        !chosen.includes(c.name) ||
        c.volumeMounts?.some((m) => m.name === FILES_VOLUME)
      )
        return;
      const index = i + offset;
      patch.push(
        c.volumeMounts
          ? { op: "add", path: `/spec/${field}/${index}/volumeMounts/-`, value: mount }
          : { op: "add", path: `/spec/${field}/${index}/volumeMounts`, value: [mount] },
      );
    });
  };
  addMounts(pod.spec?.containers ?? [], "containers", 0);
  // The agent was inserted at index 0: existing init containers moved up by one.
  addMounts(inits ?? [], "initContainers", inits?.some((c) => c.name === AGENT_CONTAINER) ? 0 : 1);
  return patch;
}
