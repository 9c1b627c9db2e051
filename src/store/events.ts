import type { DataSource } from "typeorm";
import { badRequest } from "../core/errors.js";
import { recordQuery } from "./durability.js";
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
}

const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * Kubernetes Events that controllers record on important transitions, so `kubectl describe`
 * shows them. A repeat of the same reason and message on an object bumps the count.
 */
export class EventStore {
  constructor(private readonly ds: DataSource) {}

  /** One statement: a repeat bumps the count, a first occurrence is inserted (one commit either way). */
  async record(obj: ResourceObject, e: NewEvent, source = "berth-controller"): Promise<void> {
    const { type, reason, message } = e;
    await recordQuery(
      this.ds,
      `WITH bumped AS (
         UPDATE events SET count = count + 1, last_timestamp = now() WHERE involved_uid = $4 AND reason = $6 AND message = $7 RETURNING id
       )
       INSERT INTO events (namespace, involved_kind, involved_name, involved_uid, type, reason, message, source, first_timestamp, last_timestamp)
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, now(), now() WHERE NOT EXISTS (SELECT 1 FROM bumped)`,
      [obj.metadata.namespace ?? null, obj.kind, obj.metadata.name, obj.metadata.uid, type, reason, message, source],
    );
  }

  async list(namespace: string | undefined, fieldSelector: string | undefined): Promise<Record<string, unknown>> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown): void => {
      params.push(v);
      where.push(sql.replace("?", `$${params.length}`));
    };
    if (namespace) add("namespace = ?", namespace);
    for (const term of (fieldSelector ?? "").split(",").filter(Boolean)) {
      const [k, v] = term.split(/==?/);
      const col = { "involvedObject.name": "involved_name", "involvedObject.kind": "involved_kind", "involvedObject.uid": "involved_uid", "involvedObject.namespace": "namespace" }[k.trim()];
      if (!col) {
        if (k.trim() === "involvedObject.apiVersion" || k.trim() === "involvedObject.resourceVersion" || k.trim() === "involvedObject.fieldPath") continue;
        throw badRequest(`field label not supported: ${k}`);
      }
      add(`${col} = ?`, v ?? "");
    }
    const rows: EventRow[] = await this.ds.query(`SELECT * FROM events ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY last_timestamp`, params);
    return { kind: "EventList", apiVersion: "v1", metadata: { resourceVersion: "0" }, items: rows.map(toEvent) };
  }
}

function toEvent(r: EventRow): Record<string, unknown> {
  return {
    kind: "Event",
    apiVersion: "v1",
    metadata: { name: `${r.involved_name}.${r.id.slice(0, 8)}`, namespace: r.namespace ?? "default", uid: r.id },
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
