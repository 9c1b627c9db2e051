import { collection } from "../api.js";
import { useLive, useTick } from "../hooks.js";
import { Failure, ObjectTable } from "./common.js";

const KINDS = ["applications", "databases", "domains"];

export function Project({ name }: { name: string }): preact.JSX.Element {
  useTick();
  const lists = KINDS.map((k) => ({ plural: k, live: useLive(collection(k, name)) }));
  const rows = lists.flatMap(({ plural, live }) => live.items.map((o) => ({ o, plural }))).sort((a, b) => a.plural.localeCompare(b.plural) || a.o.metadata.name.localeCompare(b.o.metadata.name));
  return (
    <>
      <nav aria-label="Breadcrumb">
        <a href="#/">Projects</a> / {name}
      </nav>
      <h1>
        Project {name}{" "}
        <a class="small" href={`#/o/_/projects/${encodeURIComponent(name)}`}>
          (details)
        </a>
      </h1>
      {lists.map((l) => (
        <Failure key={l.plural} error={l.live.error} />
      ))}
      <ObjectTable caption={`Objects in ${name}`} rows={rows} />
    </>
  );
}
