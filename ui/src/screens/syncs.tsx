import { collection, itemPath, mergePatch } from "../api.js";
import { age, ready, topProblem } from "../format.js";
import { useCan, useLive, useTick } from "../hooks.js";
import { Action, Badge, Failure } from "./common.js";

export function Syncs(): preact.JSX.Element {
  useTick();
  const syncs = useLive(collection("syncs"));
  const canWrite = useCan("patch", "syncs");
  const sorted = [...syncs.items].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  return (
    <>
      <h1>Syncs</h1>
      <Failure error={syncs.error} />
      <table>
        <caption>Syncs (GitOps)</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Ready</th>
            <th scope="col">Source</th>
            <th scope="col">Reason / message</th>
            <th scope="col">Age</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((s) => {
            const p = topProblem(s);
            const path = itemPath("syncs", undefined, s.metadata.name);
            return (
              <tr key={s.metadata.name} data-testid={`sync-${s.metadata.name}`}>
                <td>
                  <a href={`#/o/_/syncs/${encodeURIComponent(s.metadata.name)}`}>{s.metadata.name}</a>
                </td>
                <td>
                  <Badge value={ready(s)} />
                  {s.spec?.suspend ? " (suspended)" : ""}
                </td>
                <td>{s.spec?.source?.git?.url ?? s.spec?.source?.directory?.path ?? JSON.stringify(s.spec?.source ?? {})}</td>
                <td>{p ? `${p.reason ?? p.type}${p.message ? `: ${p.message}` : ""}` : ""}</td>
                <td>{age(s.metadata.creationTimestamp)}</td>
                <td>{canWrite && (s.spec?.suspend ? <Action label="Resume" run={() => mergePatch(path, { spec: { suspend: false } })} /> : <Action label="Suspend" run={() => mergePatch(path, { spec: { suspend: true } })} />)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}
