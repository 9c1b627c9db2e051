import { useEffect, useState } from "preact/hooks";
import { api } from "../api.js";
import { Failure } from "./common.js";

interface Row {
  id: string;
  time: string;
  user: string;
  action: string;
  resourceType: string;
  namespace: string | null;
  name: string | null;
}

export function Audit(): preact.JSX.Element {
  const [rows, setRows] = useState<Row[] | undefined>();
  const [error, setError] = useState("");
  const search = async (e?: Event): Promise<void> => {
    e?.preventDefault();
    const f = e ? new FormData(e.currentTarget as HTMLFormElement) : new FormData();
    const q = new URLSearchParams();
    for (const k of ["user", "project", "action", "since"]) {
      const v = String(f.get(k) ?? "").trim();
      if (v) q.set(k, v);
    }
    setError("");
    try {
      setRows((await api<{ items: Row[] }>("GET", `/berth/v1/audit?${q}`)).items);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  useEffect(() => void search(), []);
  return (
    <>
      <h1>Audit</h1>
      <form class="filters" onSubmit={(e) => void search(e)}>
        <label>
          User <input name="user" />
        </label>
        <label>
          Project <input name="project" />
        </label>
        <label>
          Action <input name="action" placeholder="create, patch, delete…" />
        </label>
        <label>
          Since <input name="since" placeholder="1h, 7d or RFC 3339" />
        </label>
        <button type="submit">Search</button>
      </form>
      <Failure error={error} />
      {rows && (
        <table>
          <caption>Audit rows, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">What</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id}>
                <td>
                  <time dateTime={r.time}>{new Date(r.time).toLocaleString()}</time>
                </td>
                <td>{r.user}</td>
                <td>{r.action}</td>
                <td>{[r.resourceType, r.namespace && r.namespace !== r.name ? `${r.namespace}/` : "", r.name].filter(Boolean).join(" ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
