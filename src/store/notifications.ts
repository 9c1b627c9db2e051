import type { DataSource } from "typeorm";
import type { NotificationPayload } from "../core/notifications.js";
import type { ResourceObject } from "../core/types.js";
import { iso, returned } from "./sql.js";

/** One outbox row claimed for delivery, with the Notification it belongs to (its spec as stored: secrets are ciphertext). */
export interface OutboxDelivery {
  id: string;
  notificationUid: string;
  namespace: string;
  name: string;
  spec: Record<string, unknown>;
  payload: NotificationPayload;
  /** Failed attempts so far. */
  attempts: number;
}

/** What the Notification's status reports of its deliveries. */
export interface OutboxStats {
  delivered: number;
  /** Failed attempts, retries included. */
  failures: number;
  pending: number;
  /** Rows given up on after the last retry. */
  dead: number;
  lastDelivery?: { time: string; event: string; object: string };
  /** The newest failed attempt, if no delivery succeeded after it. */
  lastError?: { time: string; message: string };
}

/** The outbox's side of a delivery attempt, for the dispatcher (an interface so its unit tests can fake it). */
export interface Outbox {
  claim(limit: number, leaseMs: number): Promise<OutboxDelivery[]>;
  delivered(id: string): Promise<boolean>;
  failed(id: string, error: string, retryAt: Date | undefined): Promise<void>;
  /** Back to pending without counting an attempt (the rate limit said wait). */
  defer(id: string, until: Date): Promise<void>;
}

interface ClaimRow {
  id: string;
  notification_id: string;
  ns: string;
  name: string;
  spec: Record<string, unknown>;
  payload: NotificationPayload;
  attempts: number;
}

/**
 * The notification_outbox table (ADR 0021). Rows are written with their Event (EventStore.record);
 * here they are claimed, marked and counted. A claim is a lease: a process that dies holding
 * one loses it when the lease runs out and the next leader claims the row again. Marking a row
 * delivered only moves it out of `pending`, so it is marked (and counted) once.
 */
export class NotificationOutbox implements Outbox {
  constructor(private readonly ds: DataSource) {}

  /**
   * Up to `limit` due rows, oldest first, leased for `leaseMs`. SKIP LOCKED: a second process
   * claiming at the same moment (a leader hand-over) takes other rows, never the same ones.
   * Rows of a suspended or deleted Notification wait.
   */
  async claim(limit: number, leaseMs: number): Promise<OutboxDelivery[]> {
    const rows: ClaimRow[] = returned(
      await this.ds.query(
        `WITH due AS (
           SELECT o.id FROM notification_outbox o JOIN notifications n ON n.id = o.notification_id
           WHERE o.state = 'pending' AND o.next_attempt_at <= now() AND (o.claimed_until IS NULL OR o.claimed_until < now())
             AND n.deletion_timestamp IS NULL AND coalesce(n.spec->>'suspend', 'false') <> 'true'
           ORDER BY o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED
         )
         UPDATE notification_outbox o SET claimed_until = now() + ($2::double precision * interval '1 millisecond')
         FROM due, notifications n JOIN projects p ON p.id = n.project_id
         WHERE o.id = due.id AND n.id = o.notification_id
         RETURNING o.id, o.notification_id, p.name AS ns, n.name, n.spec, o.payload, o.attempts`,
        [limit, leaseMs],
      ),
    );
    return rows
      .map((r) => ({ id: String(r.id), notificationUid: r.notification_id, namespace: r.ns, name: r.name, spec: r.spec, payload: r.payload, attempts: Number(r.attempts) }))
      .sort((a, b) => Number(a.id) - Number(b.id));
  }

  /** Marks a delivery done; false when it was not pending any more (someone marked it first). */
  async delivered(id: string): Promise<boolean> {
    const rows = returned(await this.ds.query(`UPDATE notification_outbox SET state = 'delivered', delivered_at = now(), last_attempt_at = now(), claimed_until = NULL WHERE id = $1 AND state = 'pending' RETURNING id`, [id]));
    return rows.length === 1;
  }

  /** One failed attempt: retried at `retryAt`, or given up on (state failed) without one. */
  async failed(id: string, error: string, retryAt: Date | undefined): Promise<void> {
    await this.ds.query(
      `UPDATE notification_outbox SET attempts = attempts + 1, last_error = $2, last_attempt_at = now(), claimed_until = NULL,
         state = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END, next_attempt_at = coalesce($3::timestamptz, next_attempt_at)
       WHERE id = $1 AND state = 'pending'`,
      [id, error.slice(0, 2000), retryAt ?? null],
    );
  }

  async defer(id: string, until: Date): Promise<void> {
    await this.ds.query(`UPDATE notification_outbox SET claimed_until = NULL, next_attempt_at = $2 WHERE id = $1 AND state = 'pending'`, [id, until]);
  }

  /** The counts and last outcomes of one Notification's deliveries, for its status. */
  async stats(notification: Pick<ResourceObject, "metadata">): Promise<OutboxStats> {
    const uid = notification.metadata.uid;
    const [counts] = await this.ds.query(
      `SELECT count(*) FILTER (WHERE state = 'delivered') AS delivered, count(*) FILTER (WHERE state = 'pending') AS pending,
              count(*) FILTER (WHERE state = 'failed') AS dead, coalesce(sum(attempts), 0) AS failures
       FROM notification_outbox WHERE notification_id = $1`,
      [uid],
    );
    const [last] = await this.ds.query(`SELECT delivered_at, event_type, payload FROM notification_outbox WHERE notification_id = $1 AND state = 'delivered' ORDER BY delivered_at DESC LIMIT 1`, [uid]);
    const [err] = await this.ds.query(`SELECT last_attempt_at, last_error FROM notification_outbox WHERE notification_id = $1 AND last_error IS NOT NULL AND state <> 'delivered' ORDER BY last_attempt_at DESC LIMIT 1`, [uid]);
    const out: OutboxStats = { delivered: Number(counts.delivered), failures: Number(counts.failures), pending: Number(counts.pending), dead: Number(counts.dead) };
    if (last) out.lastDelivery = { time: iso(last.delivered_at), event: last.event_type, object: objectRef(last.payload) };
    if (err && (!last || new Date(err.last_attempt_at) > new Date(last.delivered_at))) out.lastError = { time: iso(err.last_attempt_at), message: err.last_error };
    return out;
  }

  /** Every row of a Notification, oldest first (tests and `describe`-like checks). */
  async rows(notificationUid: string): Promise<{ id: string; state: string; attempts: number; event: string; lastError: string | null }[]> {
    const rows = await this.ds.query(`SELECT id, state, attempts, event_type, last_error FROM notification_outbox WHERE notification_id = $1 ORDER BY id`, [notificationUid]);
    return rows.map((r: Record<string, unknown>) => ({ id: String(r.id), state: String(r.state), attempts: Number(r.attempts), event: String(r.event_type), lastError: (r.last_error as string | null) ?? null }));
  }

  /** Drops the rows not delivered yet (a Notification being deleted). */
  async dropPending(notificationUid: string): Promise<void> {
    await this.ds.query(`DELETE FROM notification_outbox WHERE notification_id = $1 AND state = 'pending'`, [notificationUid]);
  }
}

function objectRef(p: NotificationPayload): string {
  return `${p.object.kind}/${p.object.name}`;
}
