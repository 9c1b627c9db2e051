import { useEffect, useState } from "preact/hooks";
import { stringify } from "yaml";
import { api, collection, itemPath, mergePatch, type Obj } from "../api.js";
import { age, conditions } from "../format.js";
import { useCan, useLive, useTick } from "../hooks.js";
import { Action, Conditions, Failure, Section } from "./common.js";

function Events({ namespace, name, kind }: { namespace: string; name: string; kind?: string }): preact.JSX.Element {
  const events = useLive(`/api/v1/namespaces/${encodeURIComponent(namespace)}/events`);
  const mine = events.items
    .filter((e) => e.involvedObject?.name === name && (!kind || !e.involvedObject?.kind || e.involvedObject.kind === kind))
    .sort((a, b) => Date.parse(b.lastTimestamp ?? b.eventTime ?? b.metadata.creationTimestamp ?? 0) - Date.parse(a.lastTimestamp ?? a.eventTime ?? a.metadata.creationTimestamp ?? 0));
  return (
    <Section title="Events (newest first)">
      {mine.length ? (
        <ol class="events">
          {mine.map((e) => (
            <li key={e.metadata.name}>
              <strong>{e.type}</strong> {e.reason}: {e.message} <time>{age(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp)} ago</time>
              {e.count > 1 ? ` (×${e.count})` : ""}
            </li>
          ))}
        </ol>
      ) : (
        <p>No events.</p>
      )}
    </Section>
  );
}

function Backups({ namespace, name }: { namespace: string; name: string }): preact.JSX.Element {
  const [list, setList] = useState<any[] | undefined>();
  const [error, setError] = useState("");
  useEffect(() => {
    api<any>("GET", `/berth/v1/namespaces/${encodeURIComponent(namespace)}/databases/${encodeURIComponent(name)}/backups`).then((b) => setList(b.items ?? []), (e) => setError((e as Error).message));
  }, [namespace, name]);
  return (
    <Section title="Backups">
      <Failure error={error} />
      {list && (list.length ? <ul>{list.map((b, i) => <li key={i}>{[b.name ?? b.id, b.status ?? b.phase, b.startedAt ?? b.createdAt, b.sizeBytes !== undefined ? `${b.sizeBytes} bytes` : ""].filter(Boolean).join(" · ")}</li>)}</ul> : <p>No backups.</p>)}
    </Section>
  );
}

function AppActions({ o }: { o: Obj }): preact.JSX.Element | null {
  const ns = o.metadata.namespace!;
  const allowed = useCan("patch", "applications", ns);
  const path = itemPath("applications", ns, o.metadata.name);
  if (!allowed) return null;
  return (
    <div class="actions" aria-label="Actions">
      <Action testid="restart" label="Restart" run={() => mergePatch(path, { metadata: { annotations: { "berth.dev/restarted-at": new Date().toISOString() } } })} />
      {o.spec?.suspend ? <Action testid="resume" label="Resume" run={() => mergePatch(path, { spec: { suspend: null } })} /> : <Action testid="suspend" label="Suspend" run={() => mergePatch(path, { spec: { suspend: true } })} />}
    </div>
  );
}

function Endpoints({ o }: { o: Obj }): preact.JSX.Element | null {
  const eps = o.status?.endpoints;
  if (!Array.isArray(eps) || !eps.length) return null;
  return (
    <Section title="Replicas">
      <ul>
        {eps.map((e: any, i: number) => (
          <li key={i}>{typeof e === "string" ? e : Object.entries(e).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`).join(" · ")}</li>
        ))}
      </ul>
    </Section>
  );
}

export function ObjectScreen({ namespace, plural, name }: { namespace?: string; plural: string; name: string }): preact.JSX.Element {
  useTick();
  const live = useLive(`${collection(plural, namespace)}?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`);
  const o = live.items.find((x) => x.metadata.name === name);
  const crumbNs = namespace ?? (plural === "projects" ? name : undefined);
  return (
    <>
      <nav aria-label="Breadcrumb">
        <a href="#/">Projects</a>
        {crumbNs && (
          <>
            {" / "}
            <a href={`#/p/${encodeURIComponent(crumbNs)}`}>{crumbNs}</a>
          </>
        )}{" "}
        / {plural}/{name}
      </nav>
      <h1>
        {o?.kind ?? plural} {name}
      </h1>
      <Failure error={live.error} />
      {live.loaded && !o && !live.error && <p role="status">Not found (deleted?).</p>}
      {o && (
        <>
          {plural === "applications" && (
            <p>
              <a href={`#/r/${encodeURIComponent(namespace!)}/${encodeURIComponent(name)}`}>Rollouts</a>
            </p>
          )}
          {plural === "applications" && <AppActions o={o} />}
          <Conditions list={conditions(o)} />
          {plural === "applications" && <Endpoints o={o} />}
          {plural === "domains" && o.status?.certificate && (
            <Section title="Certificate">
              <pre>{stringify(o.status.certificate)}</pre>
            </Section>
          )}
          {plural === "databases" && <Backups namespace={namespace!} name={name} />}
          <Section title="Spec">
            <pre data-testid="spec">{stringify(o.spec ?? {})}</pre>
          </Section>
          <Events namespace={namespace ?? name} name={name} kind={o.kind} />
        </>
      )}
    </>
  );
}
