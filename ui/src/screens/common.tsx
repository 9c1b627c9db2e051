import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import type { Condition, Obj } from "../api.js";
import { age, health, ready, topProblem } from "../format.js";

const SYMBOL: Record<string, string> = { True: "✓", False: "✗", Unknown: "?", running: "✓", stopped: "■", failed: "✗", pending: "…" };

/** A state as a word and a symbol, the colour only a third signal. */
export function Badge({ value }: { value: string }): preact.JSX.Element {
  return (
    <span class={`badge s-${value}`}>
      <span aria-hidden="true">{SYMBOL[value] ?? "•"} </span>
      {value}
    </span>
  );
}

export function ObjectRow({ o, plural }: { o: Obj; plural: string }): preact.JSX.Element {
  const p = topProblem(o);
  const ns = o.metadata.namespace ?? "_";
  return (
    <tr data-testid={`row-${plural}-${o.metadata.name}`}>
      <td>{o.kind ?? plural}</td>
      <td>
        <a href={`#/o/${encodeURIComponent(ns)}/${plural}/${encodeURIComponent(o.metadata.name)}`}>{o.metadata.name}</a>
      </td>
      <td>
        <Badge value={ready(o)} />
      </td>
      <td>{o.status?.phase ?? <Badge value={health(o)} />}</td>
      <td>{p ? `${p.reason ?? p.type}${p.message ? `: ${p.message}` : ""}` : ""}</td>
      <td>
        <time dateTime={o.metadata.creationTimestamp}>{age(o.metadata.creationTimestamp)}</time>
      </td>
    </tr>
  );
}

export function ObjectTable({ rows, caption }: { rows: { o: Obj; plural: string }[]; caption: string }): preact.JSX.Element {
  return (
    <table>
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Kind</th>
          <th scope="col">Name</th>
          <th scope="col">Ready</th>
          <th scope="col">Phase</th>
          <th scope="col">Reason / message</th>
          <th scope="col">Age</th>
        </tr>
      </thead>
      <tbody>
        {rows.length ? rows.map((r) => <ObjectRow key={`${r.plural}/${r.o.metadata.name}`} {...r} />) : (
          <tr>
            <td colSpan={6}>None yet.</td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

export function Conditions({ list }: { list: Condition[] }): preact.JSX.Element {
  if (!list.length) return <p>No conditions yet (no controller has reported on this object).</p>;
  return (
    <table>
      <caption>Conditions</caption>
      <thead>
        <tr>
          <th scope="col">Type</th>
          <th scope="col">Status</th>
          <th scope="col">Reason</th>
          <th scope="col">Message</th>
          <th scope="col">Since</th>
        </tr>
      </thead>
      <tbody>
        {list.map((c) => (
          <tr key={c.type}>
            <td>{c.type}</td>
            <td>
              <Badge value={c.status} />
            </td>
            <td>{c.reason}</td>
            <td>{c.message}</td>
            <td>{age(c.lastTransitionTime)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A button for one write through the API: disabled while it runs, its error shown beside it. */
export function Action({ label, run, testid }: { label: string; run: () => Promise<unknown>; testid?: string }): preact.JSX.Element {
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState("");
  const click = async (): Promise<void> => {
    setBusy(true);
    setMsg("");
    try {
      await run();
      setMsg("done");
    } catch (e) {
      setMsg((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button type="button" disabled={busy} data-testid={testid} onClick={() => void click()}>
        {label}
      </button>
      {msg && <span role="status">{msg}</span>}
    </span>
  );
}

export function Section({ title, children }: { title: string; children: ComponentChildren }): preact.JSX.Element {
  return (
    <section>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export function Failure({ error }: { error?: string }): preact.JSX.Element | null {
  return error ? (
    <p role="alert" class="error">
      {error}
    </p>
  ) : null;
}
