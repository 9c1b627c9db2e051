/**
 * A Sync's directory source (issue 15): the manifests under a directory on the server's host,
 * read with a content hash for a revision, and a chokidar watch that wakes the Sync after a
 * save. Editors save atomically (write a temp file, rename it over) or in several writes; the
 * watch waits for a quiet moment (debounce), and a half-written file that does not parse is the
 * Sync's ManifestInvalid, applied as nothing, until the next write completes it.
 */
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { FSWatcher } from "chokidar";

export interface DirectoryRevision {
  /** sha256 over every manifest's relative path and content. */
  revision: string;
  files: { file: string; text: string }[];
}

const isManifest = (f: string): boolean => /\.ya?ml$/i.test(f);
/** Editors' temp, swap and backup files are not manifests even when they end in .yaml. */
const isScratch = (f: string): boolean => /(^|\/)(\.[^/]*|[^/]*~|#[^/]*#)$/.test(f);

async function walk(root: string, rel = ""): Promise<string[]> {
  const entries = await readdir(path.join(root, rel), { withFileTypes: true });
  const out: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const child = rel ? `${rel}/${e.name}` : e.name;
    if (isScratch(child)) continue;
    const isDir = e.isDirectory() || (e.isSymbolicLink() && (await stat(path.join(root, child))).isDirectory());
    if (isDir) out.push(...(await walk(root, child)));
    else if (isManifest(e.name)) out.push(child);
  }
  return out;
}

export async function readDirectoryRevision(dir: string): Promise<DirectoryRevision> {
  const names = await walk(dir);
  const files = await Promise.all(names.map(async (file) => ({ file, text: await readFile(path.join(dir, file), "utf8") })));
  const hash = createHash("sha256");
  for (const f of files) hash.update(`${f.file}\0${f.text}\0`);
  return { revision: `sha256:${hash.digest("hex").slice(0, 40)}`, files };
}

/** One chokidar watch per Sync (by key), each calling back once per burst of changes. */
export class DirectoryWatches {
  private readonly watches = new Map<string, { dir: string; watcher: FSWatcher; timer?: NodeJS.Timeout }>();
  private stopped = false;

  constructor(private readonly debounceMs = 150) {}

  /** Watches `dir` for `key` (again only if the directory changed); a stopped set watches nothing. */
  async watch(key: string, dir: string, onChange: () => void): Promise<void> {
    if (this.stopped || this.watches.get(key)?.dir === dir) return;
    await this.unwatch(key);
    // chokidar is loaded only by an installation that has a directory Sync.
    const { watch } = await import("chokidar");
    const watcher = watch(dir, { ignoreInitial: true, atomic: true, ignored: (p: string) => isScratch(path.relative(dir, p)) && path.relative(dir, p) !== "" });
    const entry: { dir: string; watcher: FSWatcher; timer?: NodeJS.Timeout } = { dir, watcher };
    const fire = (): void => {
      clearTimeout(entry.timer);
      entry.timer = setTimeout(onChange, this.debounceMs);
    };
    watcher.on("all", fire);
    this.watches.set(key, entry);
  }

  async unwatch(key: string): Promise<void> {
    const w = this.watches.get(key);
    if (!w) return;
    this.watches.delete(key);
    clearTimeout(w.timer);
    await w.watcher.close();
  }

  async start(_signal: AbortSignal): Promise<void> {}

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.watches.keys()].map((k) => this.unwatch(k)));
  }
}
