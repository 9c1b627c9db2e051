import { collection, type Obj } from "../api.js";
import { health, ready } from "../format.js";
import { useLive } from "../hooks.js";
import { Badge, Failure } from "./common.js";

function count(items: Obj[], ns: string): Obj[] {
  return items.filter((o) => o.metadata.namespace === ns);
}

/** Ready replicas of the Project's Applications against what they declare: drift shows here first. */
function replicas(apps: Obj[]): string {
  const ready = apps.reduce((n, o) => n + (Number(o.status?.readyReplicas) || 0), 0);
  const desired = apps.reduce((n, o) => n + (o.spec?.suspend ? 0 : Number(o.spec?.replicas ?? 1) || 0), 0);
  return `${ready}/${desired} replicas ready`;
}

export function Projects(): preact.JSX.Element {
  const projects = useLive(collection("projects"));
  const apps = useLive(collection("applications"));
  const dbs = useLive(collection("databases"));
  const domains = useLive(collection("domains"));
  const sorted = [...projects.items].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  return (
    <>
      <h1>Projects</h1>
      <Failure error={projects.error} />
      {!projects.loaded && <p aria-busy="true">Loading…</p>}
      {projects.loaded && !sorted.length && <p>No Projects yet (or none you may see).</p>}
      <ul class="tiles" aria-label="Projects">
        {sorted.map((p) => {
          const name = p.metadata.name;
          const a = count(apps.items, name);
          const by = (h: string): number => a.filter((o) => health(o) === h).length;
          return (
            <li key={name} class="tile" data-testid={`tile-${name}`}>
              <h2>
                <a href={`#/p/${encodeURIComponent(name)}`}>{name}</a>
              </h2>
              <Badge value={ready(p)} />
              <dl>
                <dt>Applications</dt>
                <dd>
                  {by("running")} running, {by("stopped")} stopped, {by("failed")} failed
                  {by("pending") ? `, ${by("pending")} pending` : ""}
                </dd>
                <dt>Replicas</dt>
                <dd data-testid={`replicas-${name}`}>{replicas(a)}</dd>
                <dt>Databases</dt>
                <dd data-testid={`dbs-${name}`}>{count(dbs.items, name).length}</dd>
                <dt>Domains</dt>
                <dd>{count(domains.items, name).length}</dd>
              </dl>
            </li>
          );
        })}
      </ul>
    </>
  );
}
