import type { Access } from "./access.js";
/** Kubernetes-shaped objects as the store keeps and serves them. */
export interface ObjectMeta {
  name: string;
  /** Create only: the prefix of a name the server generates; never stored. */
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  managedFields?: unknown[];
}

export interface ResourceObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

/** One committed change, as the change log holds it; `rv` is the global resource version. */
export interface Change {
  rv: number;
  type: WatchEventType;
  kind: string;
  namespace: string | null;
  name: string;
  uid: string;
  object: ResourceObject;
  /** Nothing but `.status` changed. */
  statusOnly: boolean;
  /** The labels before the change (undefined: ADDED, or not recorded; read as unchanged). */
  prevLabels?: Record<string, string>;
}

/** Who asks for a write, for the audit log. */
export interface RequestContext {
  user: string;
  /** The users row of the caller (Projects it creates are its own); absent for the control loop. */
  userId?: string;
  /** The super_admin who sent the request as `user` (Impersonate-User); the audit row names it. */
  impersonator?: string;
  ip?: string;
  userAgent?: string;
  dryRun?: boolean;
  /**
   * The same decision the API made for the request, asked again by the store for every object
   * a write touches (a batch apply names many); throws 403. Absent for the control loop.
   */
  authorize?: (a: Access) => void;
  /** A list or watch across Projects by a user who sees only some: these Projects' objects only. */
  visible?: () => ReadonlySet<string>;
}
