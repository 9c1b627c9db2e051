/** The resource kinds Berth serves, with the names kubectl discovery needs. */
export interface KindInfo {
  kind: "Project" | "Application" | "Database" | "Domain" | "Sync" | "Notification" | "BackupDestination";
  plural: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  listKind: string;
  /** The seed table that holds objects of this kind. */
  table: string;
  /** apply order: a kind is applied after every kind with a lower rank. */
  applyRank: number;
}

export type KindName = KindInfo["kind"];

/** Finalizers the controllers put on objects, each removed once its cleanup is done. */
export const FINALIZER = {
  /** Application and Database: containers (and volumes per deletionPolicy) are removed. */
  runtime: "berth.dev/runtime",
  /** Project: the project network is removed once nothing uses it. */
  network: "berth.dev/network",
  /** Domain: the route is gone from the router. */
  route: "berth.dev/route",
  /** Sync: its directory watch ends; with deletionPolicy Delete, what it applied goes too. */
  sync: "berth.dev/sync",
  /** A compose Application: its services' Applications are deleted first (docs/compose.md). */
  compose: "berth.dev/compose",
  /** Notification: its undelivered outbox rows are dropped (docs/notifications.md). */
  notification: "berth.dev/notification",
  /** BackupDestination: nothing to clean up (the bucket and its backups stay); marks it as seen by its controller. */
  destination: "berth.dev/backup-destination",
} as const;

/**
 * A compose Application's children (ADR 0017): the label names the parent Application, the
 * service label the compose service (its host name on the Project network), and the annotation
 * the parent's uid — a child is only ever changed or deleted by the parent whose uid it names.
 */
export const COMPOSE = {
  parentLabel: "berth.dev/compose",
  serviceLabel: "berth.dev/compose-service",
  ownerAnnotation: "berth.dev/compose-owner-uid",
} as const;

export const GROUP = "berth.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Marks an object stored by `berth apply`, the only kind `apply --prune` may delete. */
export const APPLIED_BY = "berth.dev/applied-by";
export const APPLIED_BY_VALUE = "berth-apply";

export const KINDS: readonly KindInfo[] = [
  { kind: "Project", plural: "projects", singular: "project", shortNames: ["proj"], namespaced: false, listKind: "ProjectList", table: "projects", applyRank: 0 },
  // Before Database: a Database applied in the same batch finds the destination it names.
  { kind: "BackupDestination", plural: "backupdestinations", singular: "backupdestination", shortNames: ["bdest"], namespaced: true, listKind: "BackupDestinationList", table: "backup_destinations", applyRank: 1 },
  { kind: "Database", plural: "databases", singular: "database", shortNames: ["db"], namespaced: true, listKind: "DatabaseList", table: "databases", applyRank: 2 },
  { kind: "Application", plural: "applications", singular: "application", shortNames: ["app"], namespaced: true, listKind: "ApplicationList", table: "applications", applyRank: 3 },
  { kind: "Domain", plural: "domains", singular: "domain", shortNames: ["dom"], namespaced: true, listKind: "DomainList", table: "domains", applyRank: 4 },
  { kind: "Notification", plural: "notifications", singular: "notification", shortNames: ["notif"], namespaced: true, listKind: "NotificationList", table: "notifications", applyRank: 4 },
  // Last: a Sync applied in the same batch as what it will own finds those objects stored.
  { kind: "Sync", plural: "syncs", singular: "sync", shortNames: ["sy"], namespaced: false, listKind: "SyncList", table: "syncs", applyRank: 5 },
];

/** Marks an object applied by a Sync; the value is the Sync's name (issue 15). */
export const SYNC_OWNER = "berth.dev/sync";
/** An object with this annotation set to "disabled" is never pruned by a Sync. */
export const PRUNE_ANNOTATION = "berth.dev/prune";
/** A Sync annotated with a revision here may prune past its guards for that revision. */
export const PRUNE_CONFIRM = "berth.dev/prune-confirm";
/** Any new value asks the controller to reconcile now (`berth reconcile`, `berth sync reconcile`). */
export const RECONCILE_REQUESTED = "berth.dev/reconcile-requested-at";

/** Finds a kind by Kind, plural, singular or short name (case-insensitive), as kubectl does. */
export function findKind(name: string): KindInfo | undefined {
  const n = name.toLowerCase();
  return KINDS.find((k) => k.kind.toLowerCase() === n || k.plural === n || k.singular === n || k.shortNames.includes(n));
}

export function kindInfo(kind: string): KindInfo {
  const k = KINDS.find((x) => x.kind === kind);
  if (!k) throw new Error(`unknown kind ${kind}`);
  return k;
}
