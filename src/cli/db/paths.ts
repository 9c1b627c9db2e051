/** What a db command is about: a Database by name, in its Project (-n). */
export interface DbArgs {
  namespace?: string;
  name: string;
}

/** Berth's own endpoints for a Database's operations (credentials, backups, restores), served by src/api/databases.ts. */
export function dbPath(ns: string, name: string): string {
  return `/berth/v1/namespaces/${encodeURIComponent(ns)}/databases/${encodeURIComponent(name)}`;
}

/** 512B, 1.5KiB, 20.0MiB: binary units, one decimal above bytes. */
export function humanSize(bytes: number | null): string {
  if (bytes === null) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)}${units[i]}`;
}
