import { GROUP, KINDS, VERSION, type KindInfo } from "../core/kinds.js";
import { crdFor } from "../schema/crds.js";
import { apiextensionsGroup } from "./apiextensions.js";

/** /usr/bin/kubectl picks its bundled client by this minor version (see KUBECTL.md). */
export function versionInfo(): Record<string, string> {
  return {
    major: "1",
    minor: "32",
    gitVersion: "v1.32.0-berth",
    gitCommit: "berth",
    gitTreeState: "clean",
    buildDate: "2026-11-25T00:00:00Z",
    goVersion: "node" + process.versions.node,
    compiler: "tsc",
    platform: `${process.platform}/${process.arch}`,
  };
}

const GROUP_VERSION = { groupVersion: `${GROUP}/${VERSION}`, version: VERSION };

export function apiGroupList(): Record<string, unknown> {
  return { kind: "APIGroupList", apiVersion: "v1", groups: [apiGroup(), apiextensionsGroup()] };
}

export function apiGroup(): Record<string, unknown> {
  return { kind: "APIGroup", apiVersion: "v1", name: GROUP, versions: [GROUP_VERSION], preferredVersion: GROUP_VERSION };
}

const VERBS = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"];

/**
 * The categories (`kubectl get all`, `kubectl get berth`) as each CRD in crds/ names them.
 * Projects are not in `all`: they are cluster-scoped, and `get all -n NS` would list every one.
 */
function categories(k: KindInfo): string[] {
  return crdFor(k.kind).spec.names.categories ?? [];
}

export function apiResourceList(): Record<string, unknown> {
  const resources = KINDS.flatMap((k) => [
    { name: k.plural, singularName: k.singular, namespaced: k.namespaced, kind: k.kind, verbs: VERBS, shortNames: k.shortNames, categories: categories(k) },
    { name: `${k.plural}/status`, singularName: "", namespaced: k.namespaced, kind: k.kind, verbs: ["get", "patch", "update"] },
    ...(k.kind === "Application" ? [{ name: `${k.plural}/scale`, singularName: "", namespaced: true, group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get", "patch", "update"] }] : []),
  ]);
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: `${GROUP}/${VERSION}`, resources };
}

/** The core group serves namespaces (backed by Projects), events, and services (always none). */
export function coreVersions(): Record<string, unknown> {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "" }] };
}

export function coreResourceList(): Record<string, unknown> {
  return {
    kind: "APIResourceList",
    groupVersion: "v1",
    resources: [
      { name: "namespaces", singularName: "namespace", namespaced: false, kind: "Namespace", verbs: ["get", "list", "watch"], shortNames: ["ns"] },
      { name: "events", singularName: "event", namespaced: true, kind: "Event", verbs: ["get", "list", "watch"], shortNames: ["ev"] },
      // Only for `kubectl cluster-info`, which lists them; Berth has none.
      { name: "services", singularName: "service", namespaced: true, kind: "Service", verbs: ["get", "list"], shortNames: ["svc"] },
    ],
  };
}
