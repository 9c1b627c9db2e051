/** Labels on every runtime object Berth creates (DESIGN §4): how actual state is found again. */
export const LABEL = {
  managedBy: "berth.dev/managed-by",
  project: "berth.dev/project",
  kind: "berth.dev/kind",
  name: "berth.dev/name",
  ownerUid: "berth.dev/owner-uid",
  configHash: "berth.dev/config-hash",
  replica: "berth.dev/replica",
  instance: "berth.dev/instance",
  /** A job run's container (ADR 0020): the job, its Application's uid, the run. No owner-uid, so it is never a replica. */
  job: "berth.dev/job",
  jobOwnerUid: "berth.dev/job-owner-uid",
  jobRun: "berth.dev/job-run",
  /** A volume backup's or restore's helper container (ADR 0024): the volume and the operation. No owner-uid, so never a replica. */
  volume: "berth.dev/volume",
  volumeOperation: "berth.dev/volume-operation",
} as const;

export const MANAGED_BY = "berth";

export function ownerLabels(kind: string, project: string, name: string, uid: string): Record<string, string> {
  return { [LABEL.managedBy]: MANAGED_BY, [LABEL.project]: project, [LABEL.kind]: kind, [LABEL.name]: name, [LABEL.ownerUid]: uid };
}

export function containerName(project: string, name: string, replica: number): string {
  return `${project}-${name}-${replica}`;
}

export function networkName(project: string): string {
  return `berth-${project}`;
}

export function volumeName(project: string, volume: string): string {
  return `berth-${project}-${volume}`;
}
