/** Discovery documents: /api, /apis, /api/v1, /apis/{group}/{version}, /version. */
import { apiVersionOf, type ResourceType } from "./types.js";

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

export function apiVersions(): object {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }],
  };
}

export function apiGroupList(types: ResourceType[]): object {
  const groups = new Map<string, Set<string>>();
  for (const t of types)
    if (t.group) (groups.get(t.group) ?? groups.set(t.group, new Set()).get(t.group)!).add(t.version);
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: [...groups].map(([name, versions]) => {
      const list = [...versions].map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
      return { name, versions: list, preferredVersion: list[0] };
    }),
  };
}

export function apiGroup(types: ResourceType[], group: string): object | undefined {
  const versions = [...new Set(types.filter((t) => t.group === group).map((t) => t.version))];
  if (!versions.length) return undefined;
  const list = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { kind: "APIGroup", apiVersion: "v1", name: group, versions: list, preferredVersion: list[0] };
}

export function apiResourceList(types: ResourceType[], group: string, version: string): object | undefined {
  const matching = types.filter((t) => t.group === group && t.version === version);
  if (!matching.length) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: apiVersionOf(matching[0]!),
    resources: matching.flatMap((t) => [
      {
        name: t.plural,
        singularName: t.singular,
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: VERBS,
        ...(t.shortNames ? { shortNames: t.shortNames } : {}),
      },
      ...(t.statusSubresource
        ? [
            {
              name: `${t.plural}/status`,
              singularName: "",
              namespaced: t.namespaced,
              kind: t.kind,
              verbs: ["get", "patch", "update"],
            },
          ]
        : []),
    ]),
  };
}

export function version(): object {
  return {
    major: "1",
    minor: "33",
    gitVersion: "v1.33.0-strongroom-test",
    gitCommit: "0",
    gitTreeState: "clean",
    buildDate: "2026-01-01T00:00:00Z",
    goVersion: "go1.24",
    compiler: "gc",
    platform: "linux/amd64",
  };
}
