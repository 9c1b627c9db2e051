import { ApiToken } from "./api-token.js";
import { Application } from "./application.js";
import { AuditLog } from "./audit-log.js";
import { Backup } from "./backup.js";
import { Certificate } from "./certificate.js";
import { Database } from "./database.js";
import { Deployment } from "./deployment.js";
import { DeploymentLog } from "./deployment-log.js";
import { Domain } from "./domain.js";
import { EnvVar } from "./env-var.js";
import { KubeEvent } from "./event.js";
import { GitSource } from "./git-source.js";
import { Notification } from "./notification.js";
import { Project } from "./project.js";
import { ResourceChange } from "./resource-change.js";
import { Sync } from "./sync.js";
import { Team } from "./team.js";
import { TeamMember } from "./team-member.js";
import { User } from "./user.js";
import { Volume } from "./volume.js";

export { ApiToken } from "./api-token.js";
export { Application, type ApplicationPhase, type ApplicationSourceType, type ApplicationType } from "./application.js";
export { AuditLog, AUDIT_RESOURCE_TYPES, type AuditResourceType } from "./audit-log.js";
export { Backup } from "./backup.js";
export { Certificate } from "./certificate.js";
export { Database, type DatabaseEngine, type DatabasePhase } from "./database.js";
export { Deployment, type DeploymentStatus } from "./deployment.js";
export { DeploymentLog, type LogLevel } from "./deployment-log.js";
export { Domain } from "./domain.js";
export { EnvVar } from "./env-var.js";
export { KubeEvent } from "./event.js";
export { GitSource } from "./git-source.js";
export { Notification } from "./notification.js";
export { Project } from "./project.js";
export { ResourceChange, type WatchEventType } from "./resource-change.js";
export { ResourceObjectColumns, OBJECT_SHAPE_CHECK, type JsonObject } from "./resource-object.js";
export { Sync } from "./sync.js";
export { Team } from "./team.js";
export { TeamMember } from "./team-member.js";
export { User } from "./user.js";
export { Volume } from "./volume.js";

/** Every entity of the store, for the DataSource. */
export const ENTITIES = [
  ApiToken,
  User, Team, TeamMember, Project, Application, GitSource, Database, Deployment, DeploymentLog,
  EnvVar, Volume, Domain, Certificate, Backup, AuditLog, ResourceChange, KubeEvent, Sync, Notification,
];
