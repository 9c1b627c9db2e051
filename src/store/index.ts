import { PeopleStore } from "./people.js";
import type { DataSource } from "typeorm";
import { AuditLog } from "./audit.js";
import { BackupQueue } from "./backups.js";
import { CertificateStore } from "./certificates.js";
import { CredentialStore } from "./credentials.js";
import { EventStore } from "./events.js";
import { JobRunStore } from "./job-runs.js";
import { KeyRotationStore } from "./key-rotation.js";
import { NotificationOutbox } from "./notifications.js";
import { ResourceStore } from "./resources.js";
import { RevisionStore } from "./revisions.js";
import type { SecretBox } from "./secrets.js";
import { VolumeBackupStore } from "./volume-backups.js";
import { VolumeStore } from "./volumes.js";

/**
 * Every repository of the store, one per table family. Nothing outside store/ issues SQL:
 * components get the repositories they need from here (main.ts wires them).
 */
export { PeopleStore } from "./people.js";

export interface Stores {
  /** Objects (the four kinds' tables), the change log, and the audit rows of their writes. */
  resources: ResourceStore;
  events: EventStore;
  audit: AuditLog;
  volumes: VolumeStore;
  credentials: CredentialStore;
  revisions: RevisionStore;
  backups: BackupQueue;
  certificates: CertificateStore;
  /** Users, teams, API tokens and the Projects each user may see (issue 17). */
  people: PeopleStore;
  /** The state of `berth rotate-key` and its batches (ADR 0016). */
  keyRotations: KeyRotationStore;
  /** Runs of Applications' scheduled jobs (ADR 0020). */
  jobRuns: JobRunStore;
  /** Notifications' durable outbox (ADR 0021). */
  outbox: NotificationOutbox;
  /** Archives of Applications' named volumes and their restores (ADR 0024). */
  volumeBackups: VolumeBackupStore;
  /** The super_admin the first start made (the installation token's user). */
  adminUserId: () => string | undefined;
}

export function openStores(ds: DataSource, box: SecretBox, adminUserId: () => string | undefined): Stores {
  const audit = new AuditLog(ds);
  return {
    resources: new ResourceStore(ds, box, adminUserId),
    events: new EventStore(ds),
    audit,
    volumes: new VolumeStore(ds),
    credentials: new CredentialStore(ds, box),
    revisions: new RevisionStore(ds),
    backups: new BackupQueue(ds),
    certificates: new CertificateStore(ds),
    people: new PeopleStore(ds),
    keyRotations: new KeyRotationStore(ds, audit),
    jobRuns: new JobRunStore(ds),
    outbox: new NotificationOutbox(ds),
    volumeBackups: new VolumeBackupStore(ds),
    adminUserId,
  };
}
