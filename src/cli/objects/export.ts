/**
 * `berth export [-n PROJECT | -A] [-o DIR] [--redact]`: live desired state as clean manifests
 * (./export-clean.ts), one multi-document file per Project (the Project, then its Databases,
 * Applications and Domains) and the cluster-scoped Syncs in `_syncs.yaml`; without -o, the same
 * documents on stdout. `berth apply -f DIR` takes them back unchanged.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import YAML from "yaml";
import { COMPOSE, KINDS, kindInfo, type KindInfo } from "../../core/kinds.js";
import type { BerthClient } from "../shared/client.js";
import { CommandError, EXIT_USAGE, serverError } from "../shared/errors.js";
import type { Io } from "../shared/io.js";
import { cleanObject } from "./export-clean.js";
import { notFound } from "./resources.js";

export interface ExportArgs {
  namespace?: string;
  allNamespaces?: boolean;
  output?: string;
  redact?: boolean;
}

/** The file the Syncs go in: `_` is no DNS label character, so no Project's file is called so. */
export const SYNCS_FILE = "_syncs.yaml";

type Obj = Record<string, any>;

/** One output file: its name under -o and its objects in apply order. */
interface Group {
  file: string;
  title: string;
  objects: Obj[];
}

const PROJECT = kindInfo("Project");
const SYNC = kindInfo("Sync");
const NAMESPACED = KINDS.filter((k) => k.namespaced).sort((a, b) => a.applyRank - b.applyRank);

const byName = (a: Obj, b: Obj): number => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0);

/** An object on its way out (deletionTimestamp set) is no longer desired state. */
const live = (o: Obj): boolean => !o.metadata?.deletionTimestamp;

/**
 * What export writes: live objects a user applied. A compose service's Application is made by
 * its compose Application (ADR 0017), which the export holds; written too, it would be a second
 * owner of the same name on a re-apply.
 */
export const exportable = (o: Obj): boolean => live(o) && !o.metadata?.annotations?.[COMPOSE.ownerAnnotation];

async function listKind(client: BerthClient, kind: KindInfo, namespace?: string): Promise<Obj[]> {
  return (await client.list(kind, namespace).catch(serverError)).filter(exportable).sort(byName);
}

/** Per Project: the Project itself (when it exists) and every namespaced object in it. */
async function projectGroups(client: BerthClient, args: ExportArgs): Promise<Group[]> {
  const projects = new Map<string, Obj[]>();
  if (args.namespace) {
    const p = await client.get(PROJECT, undefined, args.namespace).catch(serverError);
    if (!p || !live(p)) throw notFound(PROJECT, args.namespace);
    projects.set(args.namespace, [p]);
  } else {
    for (const p of await listKind(client, PROJECT)) projects.set(p.metadata.name, [p]);
  }
  for (const kind of NAMESPACED) {
    for (const o of await listKind(client, kind, args.namespace)) {
      // With -A, objects of a namespace without a Project still go out, in a file of their own.
      const ns = o.metadata.namespace as string;
      if (!projects.has(ns)) projects.set(ns, []);
      projects.get(ns)!.push(o);
    }
  }
  return [...projects.keys()].sort().map((name) => ({ file: `${name}.yaml`, title: `Project ${name}`, objects: projects.get(name)! }));
}

async function groupsFor(client: BerthClient, args: ExportArgs): Promise<Group[]> {
  const groups = await projectGroups(client, args);
  if (args.allNamespaces) {
    const syncs = await listKind(client, SYNC);
    if (syncs.length) groups.push({ file: SYNCS_FILE, title: "Syncs", objects: syncs });
  }
  return groups;
}

function kindOf(o: Obj): KindInfo {
  return kindInfo(String(o.kind));
}

function label(o: Obj): string {
  const ns = o.metadata.namespace ? `${o.metadata.namespace}/` : "";
  return `${kindOf(o).singular}.berth.dev/${ns}${o.metadata.name}`;
}

/** The documents of one group as YAML, each secret sealed or redacted; plain secrets reported. */
function render(group: Group, args: ExportArgs, io: Io): string {
  const docs = group.objects.map((o) => {
    const { object, unsealed } = cleanObject(kindOf(o), o, { redact: args.redact });
    for (const field of unsealed) io.err(`warning: ${label(o)}: ${field} came back unsealed; written as <redacted>, set it again after applying elsewhere`);
    return YAML.stringify(object, { lineWidth: 0 });
  });
  return docs.join("---\n");
}

function header(group: Group, args: ExportArgs): string {
  const secrets = args.redact ? "secret values are <redacted> (a re-apply keeps the stored ones)" : "secret values are sealed: they open only on the installation that exported them";
  return `# berth export: ${group.title} (${group.objects.length} object${group.objects.length === 1 ? "" : "s"}); ${secrets}.\n`;
}

export async function exportCommand(client: BerthClient, args: ExportArgs, io: Io): Promise<void> {
  if (args.namespace && args.allNamespaces) throw new CommandError("error: pass -n PROJECT or -A, not both", EXIT_USAGE);
  if (!args.namespace && !args.allNamespaces) throw new CommandError("error: export what? pass -n PROJECT or -A", EXIT_USAGE);
  const groups = (await groupsFor(client, args)).filter((g) => g.objects.length > 0);
  if (!args.output) {
    const text = groups.map((g) => render(g, args, io)).join("---\n");
    if (text) io.out(text.trimEnd());
    else io.err("No resources found");
    return;
  }
  await mkdir(args.output, { recursive: true });
  for (const g of groups) {
    const file = path.join(args.output, g.file);
    await writeFile(file, header(g, args) + render(g, args, io), { mode: 0o600 });
    io.out(`${file}: ${g.objects.length} object${g.objects.length === 1 ? "" : "s"}`);
  }
  if (groups.length === 0) io.err("No resources found");
}
