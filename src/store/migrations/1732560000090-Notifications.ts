import type { MigrationInterface, QueryRunner } from "typeorm";

/** The audit resource types before this migration (a migration never follows the entity's list). */
const AUDIT_TYPES = ["user", "team", "project", "application", "database", "deployment", "domain", "volume", "backup", "certificate", "event", "sync", "installation"];

/**
 * Notifications (issue 20, ADR 0021): the kind's table (object columns only, like syncs) and the
 * durable outbox. An outbox row is inserted by the statement that records the Event it is about
 * (src/store/events.ts), so an Event and its deliveries commit together or not at all; the
 * leader's dispatcher claims rows with FOR UPDATE SKIP LOCKED and a lease, and marks a row
 * delivered once (state moves from pending only).
 */
export class Notifications1732560000090 implements MigrationInterface {
  name = "Notifications1732560000090";

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE notifications (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      project_id uuid NOT NULL,
      name varchar(255) NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      resource_version bigint NOT NULL DEFAULT nextval('berth_resource_version'),
      generation bigint NOT NULL DEFAULT 1,
      labels jsonb NOT NULL DEFAULT '{}',
      annotations jsonb NOT NULL DEFAULT '{}',
      finalizers jsonb NOT NULL DEFAULT '[]',
      deletion_timestamp timestamptz,
      spec jsonb NOT NULL DEFAULT '{}',
      object_status jsonb NOT NULL DEFAULT '{}',
      managed_fields jsonb NOT NULL DEFAULT '[]',
      CONSTRAINT pk_notifications PRIMARY KEY (id),
      CONSTRAINT uq_notifications_project_name UNIQUE (project_id, name),
      CONSTRAINT fk_notifications_project FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE,
      CONSTRAINT check_notifications_object_shape CHECK (
        jsonb_typeof(labels) = 'object' AND jsonb_typeof(annotations) = 'object'
        AND jsonb_typeof(finalizers) = 'array' AND jsonb_typeof(spec) = 'object'
        AND jsonb_typeof(object_status) = 'object' AND jsonb_typeof(managed_fields) = 'array'
      )
    )`);
    await q.query(`CREATE INDEX idx_notifications_project_id ON notifications (project_id)`);
    await q.query(`CREATE INDEX idx_notifications_labels ON notifications USING gin (labels)`);
    await q.query(`CREATE TABLE notification_outbox (
      id bigserial NOT NULL,
      notification_id uuid NOT NULL,
      event_type varchar(50) NOT NULL,
      payload jsonb NOT NULL,
      state varchar(20) NOT NULL DEFAULT 'pending',
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      claimed_until timestamptz,
      last_error text,
      last_attempt_at timestamptz,
      delivered_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT pk_notification_outbox PRIMARY KEY (id),
      CONSTRAINT check_notification_outbox_state CHECK (state IN ('pending', 'delivered', 'failed')),
      CONSTRAINT check_notification_outbox_attempts CHECK (attempts >= 0),
      CONSTRAINT fk_notification_outbox_notification FOREIGN KEY (notification_id) REFERENCES notifications (id) ON DELETE CASCADE
    )`);
    await q.query(`CREATE INDEX idx_notification_outbox_due ON notification_outbox (next_attempt_at) WHERE state = 'pending'`);
    await q.query(`CREATE INDEX idx_notification_outbox_notification ON notification_outbox (notification_id, id DESC)`);
    await q.query(`ALTER TABLE audit_logs DROP CONSTRAINT check_audit_resource_type`);
    await q.query(`ALTER TABLE audit_logs ADD CONSTRAINT check_audit_resource_type CHECK (resource_type IN (${AUDIT_TYPES.map((t) => `'${t}'`).join(", ")}, 'notification'))`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM audit_logs WHERE resource_type = 'notification'`);
    await q.query(`ALTER TABLE audit_logs DROP CONSTRAINT check_audit_resource_type`);
    await q.query(`ALTER TABLE audit_logs ADD CONSTRAINT check_audit_resource_type CHECK (resource_type IN (${AUDIT_TYPES.map((t) => `'${t}'`).join(", ")}))`);
    await q.query(`DROP TABLE notification_outbox`);
    await q.query(`DROP TABLE notifications`);
  }
}
