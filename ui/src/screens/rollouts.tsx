import { useEffect, useState } from "preact/hooks";
import { api, collection, itemPath, mergePatch } from "../api.js";
import { age } from "../format.js";
import { useCan, useLive } from "../hooks.js";
import { Action, Badge, Failure } from "./common.js";

interface Revision {
  revision: number;
  status: string;
  configHash: string;
  startedAt: string;
  completedAt: string | null;
  logs?: { level: string; message: string; time: string }[];
}

export function Rollouts({ namespace, name }: { namespace: string; name: string }): preact.JSX.Element {
  const live = useLive(`${collection("applications", namespace)}?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`);
  const app = live.items.find((x) => x.metadata.name === name);
  const [history, setHistory] = useState<{ currentConfigHash: string | null; items: Revision[] } | undefined>();
  const [error, setError] = useState("");
  const canWrite = useCan("patch", "applications", namespace);
  const canUndo = useCan("create", "rollback", namespace);
  const base = `/berth/v1/namespaces/${encodeURIComponent(namespace)}/applications/${encodeURIComponent(name)}`;
  // Read again whenever the Application changes (its watch), not on a timer.
  const version = app?.metadata.resourceVersion;
  useEffect(() => {
    if (!version) return;
    api<any>("GET", `${base}/deployments?logs=true`).then(setHistory, (e) => setError((e as Error).message));
  }, [base, version]);
  const path = itemPath("applications", namespace, name);
  return (
    <>
      <nav aria-label="Breadcrumb">
        <a href="#/">Projects</a> / <a href={`#/p/${encodeURIComponent(namespace)}`}>{namespace}</a> / <a href={`#/o/${encodeURIComponent(namespace)}/applications/${encodeURIComponent(name)}`}>{name}</a> / rollouts
      </nav>
      <h1>Rollouts of {name}</h1>
      <Failure error={error || live.error} />
      {app && canWrite && (
        <div class="actions" aria-label="Actions">
          <Action testid="restart" label="Restart" run={() => mergePatch(path, { metadata: { annotations: { "berth.dev/restarted-at": new Date().toISOString() } } })} />
          {app.spec?.suspend ? <Action testid="resume" label="Resume" run={() => mergePatch(path, { spec: { suspend: null } })} /> : <Action testid="suspend" label="Suspend" run={() => mergePatch(path, { spec: { suspend: true } })} />}
          {canUndo && <Action testid="undo" label="Undo (previous good revision)" run={() => api("POST", `${base}/rollback`)} />}
        </div>
      )}
      {history && (
        <ol class="revisions" reversed>
          {[...history.items].sort((a, b) => b.revision - a.revision).map((r) => {
            const isLive = r.configHash === history.currentConfigHash;
            return (
              <li key={r.revision} data-testid={`revision-${r.revision}`}>
                <h2>
                  Revision {r.revision} <Badge value={r.status} /> {isLive && <strong class="live">live</strong>}
                </h2>
                <p>
                  started {age(r.startedAt)} ago{r.completedAt ? `, finished ${age(r.completedAt)} ago` : ""} · config {r.configHash.slice(0, 12)}
                </p>
                {canUndo && !isLive && <Action label={`Roll back to ${r.revision}`} run={() => api("POST", `${base}/rollback?toRevision=${r.revision}`)} />}
                {r.logs?.length ? (
                  <details>
                    <summary>Deployment log ({r.logs.length} lines)</summary>
                    <pre>{r.logs.map((l) => `${l.time} ${l.level} ${l.message}`).join("\n")}</pre>
                  </details>
                ) : null}
              </li>
            );
          })}
        </ol>
      )}
      {history && !history.items.length && <p>No revisions yet.</p>}
    </>
  );
}
