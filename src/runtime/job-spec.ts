import type { ContainerSpec } from "./driver.js";
import { LABEL, MANAGED_BY, networkName, volumeName } from "./labels.js";

/** What one run of a scheduled job needs: the Application's current image, env and volumes, the job's command. */
export interface JobRuntimeSpec {
  project: string;
  app: string;
  appUid: string;
  job: string;
  runId: string;
  image: string;
  command: string[];
  env: Record<string, string>;
  volumes: { name: string; mountPath: string }[];
}

/** The container of one job run: `<project>-<app>-job-<job>-<run>`, on the Project network, never restarted. */
export function jobContainerName(s: Pick<JobRuntimeSpec, "project" | "app" | "job" | "runId">): string {
  return `${s.project}-${s.app}-job-${s.job}-${s.runId.slice(0, 8)}`;
}

export function jobLabels(s: Pick<JobRuntimeSpec, "project" | "app" | "appUid" | "job" | "runId">): Record<string, string> {
  return { [LABEL.managedBy]: MANAGED_BY, [LABEL.project]: s.project, [LABEL.kind]: "Job", [LABEL.name]: s.app, [LABEL.job]: s.job, [LABEL.jobOwnerUid]: s.appUid, [LABEL.jobRun]: s.runId };
}

export function jobContainerOptions(s: JobRuntimeSpec): ContainerSpec {
  const network = networkName(s.project);
  return {
    name: jobContainerName(s),
    Image: s.image,
    Cmd: s.command,
    Env: Object.entries(s.env).map(([k, v]) => `${k}=${v}`),
    Labels: jobLabels(s),
    HostConfig: {
      Init: true,
      RestartPolicy: { Name: "no" },
      NetworkMode: network,
      Mounts: s.volumes.map((v) => ({ Type: "volume" as const, Source: volumeName(s.project, v.name), Target: v.mountPath })),
    },
    NetworkingConfig: { EndpointsConfig: { [network]: {} } },
  };
}
