/** A meta.k8s.io/v1 Table as the server renders it for `get`. */
export interface Table {
  columnDefinitions: { name: string; priority?: number }[];
  rows: { cells: unknown[]; object?: { metadata?: { namespace?: string } } }[];
}

function text(v: unknown): string {
  if (v === null || v === undefined || v === "") return "<none>";
  return String(v);
}

/** kubectl-style columns: upper-case headers, padded by the widest cell, three spaces apart. */
export function printTable(table: Table, opts: { wide: boolean; withNamespace: boolean }): string {
  const keep = table.columnDefinitions.map((c, i) => ({ i, name: c.name, show: opts.wide || !c.priority }));
  const shown = keep.filter((c) => c.show);
  const header = [...(opts.withNamespace ? ["NAMESPACE"] : []), ...shown.map((c) => c.name.toUpperCase())];
  const rows = table.rows.map((r) => [...(opts.withNamespace ? [text(r.object?.metadata?.namespace)] : []), ...shown.map((c) => text(r.cells[c.i]))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("   ");
  return [line(header), ...rows.map(line)].join("\n");
}
