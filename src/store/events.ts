import type { DataSource } from "typeorm";
import { OBJECT_FIELDS, parseFieldSelector, type FieldPaths, type FieldSelector } from "../core/selectors.js";
import { recordQuery } from "./durability.js";
import { notificationEventOf, type NotificationPayload } from "../core/notifications.js";
import type { ResourceObject } from "../core/types.js";

export type EventType = "Normal" | "Warning";

/** An event to record about an object. */
export interface NewEvent {
  type: EventType;
  reason: string;
  message: string;
}

interface EventRow {
  id: string;
  namespace: string | null;
  involved_kind: string;
  involved_name: string;
  involved_uid: string;
  type: EventType;
  reason: string;
  message: string;
  count: number;
  source: string;
  first_timestamp: Date;
  last_timestamp: Date;
  rv: string;
}

const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * Kubernetes Events that controllers record on important transitions, so `kubectl describe`
 * shows them. A repeat of the same reason and message on an object bumps the count.
 */
export class EventStore {
  constructor(private readonly ds: DataSource) {}

  /**
   * One statement: a repeat bumps the count, a first occurrence is inserted (one commit either
   * way). An Event a Notification subscribes to (src/core/notifications.ts) also inserts one
   * outbox row per matching Notification in that same statement, committed synchronously: the
   * Event and its deliveries are stored together or not at all (ADR 0021).
   */
  async record(obj: ResourceObject, e: NewEvent, source = "berth-controller"): Promise<void> {
    const { type, reason, message } = e;
    const params = [obj.metadata.namespace ?? null, obj.kind, obj.metadata.name, obj.metadata.uid, type, reason, message, source];
    const notify = notificationEventOf(obj.kind, type, reason);
    if (!notify) {
      await recordQuery(this.ds, RECORD_SQL, params);
      return;
    }
    const payload: Omit<NotificationPayload, "at"> = { event: notify, type, reason, message, object: { kind: obj.kind, ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}), name: obj.metadata.name, uid: obj.metadata.uid! } };
    await this.ds.query(`${RECORD_SQL.replace("WITH bumped AS", `WITH ${OUTBOX_CTE}, bumped AS`)}`, [...params, notify, JSON.stringify(payload)]);
  }

  /**
   * Events in `namespace` (all without one) that `fields` selects. Its equality terms on columns
   * narrow the query; every term is then checked on the Event itself, so `!=` works as well.
   * The list's resourceVersion is the newest event's (see eventVersion).
   */
  async list(namespace: string | undefined, fields?: FieldSelector | string): Promise<{ kind: string; apiVersion: string; metadata: { resourceVersion: string }; items: Record<string, any>[] }> {
    const fs = typeof fields === "object" ? fields : parseFieldSelector(fields, EVENT_FIELDS);
    // The version first: an event recorded in between is then listed and perhaps watched again,
    // never lost between the list and a watch from its version.
    const [{ rv }]: { rv: string | null }[] = await this.ds.query(`SELECT ${RV_SQL.replace("last_timestamp", "max(last_timestamp)")} AS rv FROM events`);
    const rows = await this.select(namespace, fs);
    return { kind: "EventList", apiVersion: "v1", metadata: { resourceVersion: rv ?? "0" }, items: rows.map(toEvent).filter(fs.matches) };
  }

  /**
   * Events recorded or repeated at `afterVersion` or later (eventVersion), for watches that
   * poll: they compare counts to tell what they have not sent yet.
   */
  async since(namespace: string | undefined, fs: FieldSelector, afterVersion: number): Promise<Record<string, any>[]> {
    const rows = await this.select(namespace, fs, afterVersion);
    return rows.map(toEvent).filter(fs.matches);
  }

  private async select(namespace: string | undefined, fs: FieldSelector, afterVersion?: number): Promise<EventRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown): void => {
      params.push(v);
      where.push(sql.replace("?", `$${params.length}`));
    };
    // Only the involved object's namespace is the column: an Event of a cluster-scoped object has
    // none, and is served in "default".
    const ns = namespace ?? fs.equality("involvedObject.namespace");
    if (ns) add("namespace = ?", ns);
    for (const [field, column] of Object.entries(EVENT_COLUMNS)) {
      const v = fs.equality(field);
      if (v !== undefined) add(`${column} = ?`, v);
    }
    if (afterVersion !== undefined) add("last_timestamp >= to_timestamp(?::double precision / 1000)", afterVersion);
    return await this.ds.query(`SELECT *, ${RV_SQL} AS rv FROM events ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY last_timestamp`, params);
  }
}

const RECORD_SQL = `WITH bumped AS (
   UPDATE events SET count = count + 1, last_timestamp = now() WHERE involved_uid = $4 AND reason = $6 AND message = $7 RETURNING id
 )
 INSERT INTO events (namespace, involved_kind, involved_name, involved_uid, type, reason, message, source, first_timestamp, last_timestamp)
 SELECT $1, $2, $3, $4, $5, $6, $7, $8, now(), now() WHERE NOT EXISTS (SELECT 1 FROM bumped)`;

/**
 * The outbox rows of one Event ($9 the notification event type, $10 the payload): one per
 * Notification that subscribes to it — in the object's Project, or for a cluster-scoped object
 * (a Sync) in each Project it may write into (all when spec.targetProjects is unset) — not
 * suspended nor being deleted, whose spec.applications (if any) names an Application's Event.
 * A data-modifying CTE runs whether or not the main statement reads it.
 */
const OUTBOX_CTE = `outbox AS (
   INSERT INTO notification_outbox (notification_id, event_type, payload)
   SELECT n.id, $9::text, jsonb_set($10::jsonb, '{at}', to_jsonb(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
   FROM notifications n JOIN projects p ON p.id = n.project_id
   WHERE n.deletion_timestamp IS NULL
     AND coalesce(n.spec->>'suspend', 'false') <> 'true'
     AND n.spec->'events' ? $9::text
     AND ($2::text <> 'Application' OR NOT (n.spec ? 'applications') OR n.spec->'applications' ? $3::text)
     AND (p.name = $1::text OR ($1::text IS NULL AND EXISTS (
       SELECT 1 FROM syncs s WHERE s.id = $4::uuid AND (NOT (s.spec ? 'targetProjects') OR s.spec->'targetProjects' ? p.name)
     )))
 )`;

/**
 * An Event's resourceVersion: its last_timestamp in epoch milliseconds. Events are not in the
 * change log (they are no desired state and would flood it), so their versions come from the
 * clock: they grow with every record or repeat, which is all a poll needs (docs/kubectl.md).
 */
const RV_SQL = "floor(extract(epoch from last_timestamp) * 1000)::bigint::text";

/** Field selectors on Events that map to a column and can narrow the query. */
const EVENT_COLUMNS: Record<string, string> = {
  "involvedObject.name": "involved_name",
  "involvedObject.kind": "involved_kind",
  // As text: a malformed uid then matches nothing instead of failing the query.
  "involvedObject.uid": "involved_uid::text",
  type: "type",
  reason: "reason",
};

/** The field labels Kubernetes supports on core Events, read from the Event as served. */
export const EVENT_FIELDS: FieldPaths = {
  ...OBJECT_FIELDS,
  "involvedObject.kind": (e) => e.involvedObject?.kind,
  "involvedObject.namespace": (e) => e.involvedObject?.namespace,
  "involvedObject.name": (e) => e.involvedObject?.name,
  "involvedObject.uid": (e) => e.involvedObject?.uid,
  "involvedObject.apiVersion": (e) => e.involvedObject?.apiVersion,
  "involvedObject.resourceVersion": (e) => e.involvedObject?.resourceVersion,
  "involvedObject.fieldPath": (e) => e.involvedObject?.fieldPath,
  reason: (e) => e.reason,
  reportingComponent: (e) => e.reportingComponent,
  source: (e) => e.source?.component,
  type: (e) => e.type,
};

function toEvent(r: EventRow): Record<string, unknown> {
  return {
    kind: "Event",
    apiVersion: "v1",
    metadata: { name: `${r.involved_name}.${r.id.slice(0, 8)}`, namespace: r.namespace ?? "default", uid: r.id, resourceVersion: r.rv, creationTimestamp: iso(r.first_timestamp) },
    involvedObject: { kind: r.involved_kind, name: r.involved_name, namespace: r.namespace ?? undefined, uid: r.involved_uid, apiVersion: "berth.dev/v1alpha1" },
    reason: r.reason,
    message: r.message,
    type: r.type,
    count: r.count,
    source: { component: r.source },
    firstTimestamp: iso(r.first_timestamp),
    lastTimestamp: iso(r.last_timestamp),
  };
}
