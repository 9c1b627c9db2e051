/**
 * Reads manifests for `berth apply/diff/delete -f` and for a Sync's revision: files,
 * directories, stdin or texts, YAML or JSON, many documents per file. Every problem of every document is collected and
 * reported at once as file:line, so nothing is sent to the server unless all of it is
 * valid. Nothing here talks to a server.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, visit, type Document, type Node, type YAMLError } from "yaml";
import { API_VERSION, KINDS, type KindInfo } from "../core/kinds.js";
import { parseFieldPath, unknownFields, validateObject, type PathSegment } from "./crds.js";

/** One object read from a manifest. */
export interface ManifestDoc {
  /** The path as given (or found under a given directory); "<stdin>" for `-`. */
  file: string;
  /** 1-based line where the object starts. */
  line: number;
  /** 0-based position of the YAML document in its file. */
  index: number;
  object: Record<string, unknown>;
  kind: KindInfo;
  /** The line of a field such as "spec.ports[0].containerPort"; the closest existing parent's line if it is absent. */
  lineOf(field: string): number;
}

export interface ManifestProblem {
  file: string;
  /** 1-based; 0 when the problem is not about a position (an unreadable file). */
  line: number;
  field?: string;
  message: string;
}

export class ManifestError extends Error {
  constructor(readonly problems: ManifestProblem[]) {
    super(problems.map(formatProblem).join("\n"));
    this.name = "ManifestError";
  }
}

/** Larger documents are refused before they are converted, like the API server's request limit. */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;
/** Alias expansions allowed per document; a "billion laughs" document needs far more. */
export const MAX_ALIAS_COUNT = 100;

const STDIN_NAME = "<stdin>";
const MANIFEST_EXTENSIONS = /\.(ya?ml|json)$/i;

export function formatProblem(p: ManifestProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}` : p.file;
  return p.field ? `${where}: ${p.field}: ${p.message}` : `${where}: ${p.message}`;
}

/** Stable: Project → Database → Application → Domain, so owners exist before what they own. */
export function sortForApply(docs: readonly ManifestDoc[]): ManifestDoc[] {
  return [...docs].sort((a, b) => a.kind.applyRank - b.kind.applyRank);
}

/** The reverse of sortForApply: dependants go before what they depend on. */
export function sortForDelete(docs: readonly ManifestDoc[]): ManifestDoc[] {
  return sortForApply(docs).reverse();
}

/**
 * Reads every manifest in inputs (files, directories searched recursively for *.yaml,
 * *.yml and *.json in name order, or "-" for stdin) and checks each object as far as
 * possible without a server. Throws a ManifestError listing all problems, if any.
 */
export async function loadManifests(inputs: string[], readStdin: () => Promise<string> = readProcessStdin): Promise<ManifestDoc[]> {
  const problems: ManifestProblem[] = [];
  const sources = await readSources(inputs, readStdin, problems);
  const seen = new Map<string, string>();
  const docs: ManifestDoc[] = [];
  for (const source of sources) docs.push(...checkSource(source, seen, problems));
  if (problems.length) throw new ManifestError(sortProblems(problems, sources.map((s) => s.file)));
  return docs;
}

/**
 * The same checks over texts already in hand (a Sync's fetched revision): every problem of every
 * document at once, as file:line, or the documents.
 */
export function parseManifestTexts(sources: readonly { file: string; text: string }[]): ManifestDoc[] {
  const problems: ManifestProblem[] = [];
  const seen = new Map<string, string>();
  const docs: ManifestDoc[] = [];
  for (const source of sources) docs.push(...checkSource(source, seen, problems));
  if (problems.length) throw new ManifestError(sortProblems(problems, sources.map((s) => s.file)));
  return docs;
}

/** The valid objects of one source, in order; `seen` spans sources, so duplicates across files are found too. */
function checkSource(source: Source, seen: Map<string, string>, problems: ManifestProblem[]): ManifestDoc[] {
  const docs: ManifestDoc[] = [];
  for (const raw of parseSource(source, problems)) {
    for (const candidate of objectsOf(raw, problems)) {
      const doc = checkObject(candidate, seen, problems);
      if (doc) docs.push(doc);
    }
  }
  return docs;
}

function sortProblems(problems: ManifestProblem[], files: string[]): ManifestProblem[] {
  const order = (f: string): number => {
    const i = files.indexOf(f);
    return i < 0 ? -1 : i;
  };
  return [...problems].sort((a, b) => order(a.file) - order(b.file) || a.line - b.line);
}

// ---------------------------------------------------------------------------
// Reading inputs

interface Source {
  file: string;
  text: string;
}

async function readSources(inputs: string[], readStdin: () => Promise<string>, problems: ManifestProblem[]): Promise<Source[]> {
  const sources: Source[] = [];
  for (const input of inputs) {
    if (input === "-") {
      sources.push({ file: STDIN_NAME, text: await readStdin() });
      continue;
    }
    try {
      for (const file of await expandInput(input)) sources.push({ file, text: await readFile(file, "utf8") });
    } catch (e) {
      problems.push({ file: input, line: 0, message: ioMessage(e) });
    }
  }
  return sources;
}

/** A file as itself (whatever its extension, as kubectl does); a directory as its manifest files. */
async function expandInput(input: string): Promise<string[]> {
  const info = await stat(input);
  return info.isDirectory() ? manifestFilesUnder(input) : [input];
}

async function manifestFilesUnder(dir: string): Promise<string[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    // Dirent does not follow symlinks; stat does.
    const isDir = entry.isDirectory() || (entry.isSymbolicLink() && (await stat(full)).isDirectory());
    if (isDir) files.push(...(await manifestFilesUnder(full)));
    else if (MANIFEST_EXTENSIONS.test(entry.name)) files.push(full);
  }
  return files;
}

function ioMessage(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === "ENOENT") return "no such file or directory";
  if (err.code === "EACCES") return "permission denied";
  return err.message ?? String(e);
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

// ---------------------------------------------------------------------------
// Parsing

/** One non-empty YAML document, parsed and converted. */
interface RawDoc {
  file: string;
  index: number;
  line: number;
  doc: Document;
  lineCounter: LineCounter;
  value: unknown;
}

function parseSource(source: Source, problems: ManifestProblem[]): RawDoc[] {
  if (/\.json$/i.test(source.file) && !isValidJson(source, problems)) return [];
  const lineCounter = new LineCounter();
  // merge: kubectl's YAML (1.1) understands `<<:` merge keys, so manifests use them.
  const docs = Array.from(parseAllDocuments(source.text, { lineCounter, merge: true }));
  const out: RawDoc[] = [];
  docs.forEach((doc, index) => {
    const raw = convertDocument({ source, doc, index, lineCounter }, problems);
    if (raw) out.push(raw);
  });
  return out;
}

/** A parsed YAML document and where it is: its source, position in it, and the source's line counter. */
interface ParsedDoc {
  source: Source;
  doc: Document;
  index: number;
  lineCounter: LineCounter;
}

function convertDocument({ source, doc, index, lineCounter }: ParsedDoc, problems: ManifestProblem[]): RawDoc | undefined {
  const range = doc.range ?? [0, source.text.length, source.text.length];
  const start = (doc.contents as Node | null)?.range?.[0] ?? range[0];
  const line = lineCounter.linePos(start).line;
  const report = (message: string, at = line): undefined => {
    problems.push({ file: source.file, line: at, message });
    return undefined;
  };
  // Later errors in a broken document are mostly echoes of the first one.
  const [error] = doc.errors;
  if (error) return report(yamlErrorMessage(error), yamlErrorLine(error, doc, lineCounter));
  const bytes = Buffer.byteLength(source.text.slice(range[0], range[2]));
  if (bytes > MAX_DOCUMENT_BYTES) return report(`document is too large: ${bytes} bytes (the limit is ${MAX_DOCUMENT_BYTES} bytes, 1 MiB)`);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    if (e instanceof ReferenceError) {
      return report(`YAML aliases expand too much (more than ${MAX_ALIAS_COUNT} alias uses): refusing a possible "billion laughs" document`);
    }
    return report(`invalid YAML: ${(e as Error).message}`);
  }
  // A trailing `---` or a document of only comments is empty; kubectl skips those too.
  if (value === null || value === undefined) return undefined;
  return { file: source.file, index, line, doc, lineCounter, value };
}

function yamlErrorMessage(e: YAMLError): string {
  const first = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
  return `invalid YAML: ${first}`;
}

/**
 * Where a YAML error is. yaml reports an unclosed quote or flow collection ([…], {…})
 * where it gave up, which can be far below the culprit, so point at where it opened.
 */
function yamlErrorLine(e: YAMLError, doc: Document, lineCounter: LineCounter): number {
  const offset = e.pos[0];
  if (/quote|end with a [\]}]/.test(e.message)) {
    const start = innermostOpenerAt(doc, offset);
    if (start !== undefined) return lineCounter.linePos(start).line;
  }
  return e.linePos?.[0].line ?? lineCounter.linePos(offset).line;
}

/** Start of the innermost quoted scalar or flow collection that runs up to offset. */
function innermostOpenerAt(doc: Document, offset: number): number | undefined {
  let start: number | undefined;
  const consider = (node: Node, opener: boolean): void => {
    const r = node.range;
    if (opener && r && r[0] < offset && offset <= r[2] && (start === undefined || r[0] > start)) start = r[0];
  };
  visit(doc, {
    Scalar: (_k, node) => consider(node, node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE"),
    Seq: (_k, node) => consider(node, !!node.flow),
    Map: (_k, node) => consider(node, !!node.flow),
  });
  return start;
}

/** YAML accepts things JSON does not (trailing commas, comments), so a .json file must be JSON. */
function isValidJson(source: Source, problems: ManifestProblem[]): boolean {
  try {
    JSON.parse(source.text);
    return true;
  } catch (e) {
    const message = (e as Error).message;
    const pos = /at position (\d+)/.exec(message);
    const line = pos ? lineAt(source.text, Number(pos[1])) : jsonErrorLineFromYaml(source.text);
    problems.push({ file: source.file, line, message: `invalid JSON: ${message.replace(/ in JSON at position \d+.*$/, "")}` });
    return false;
  }
}

/** Node's JSON errors sometimes carry no position; the YAML parser in JSON mode finds one. */
function jsonErrorLineFromYaml(text: string): number {
  const docs = Array.from(parseAllDocuments(text, { schema: "json", prettyErrors: true }));
  return docs.flatMap((d) => d.errors)[0]?.linePos?.[0].line ?? 1;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

// ---------------------------------------------------------------------------
// Objects

/** An object inside a document: the document itself, or an item of a `kind: List`. */
interface Candidate {
  raw: RawDoc;
  base: PathSegment[];
  object: Record<string, unknown>;
  lineOf(field: string): number;
}

function objectsOf(raw: RawDoc, problems: ManifestProblem[]): Candidate[] {
  const { value } = raw;
  if (!isPlainObject(value)) {
    const what = Array.isArray(value) ? "a sequence (list)" : `a ${typeof value}`;
    problems.push({ file: raw.file, line: raw.line, message: `a document must be a mapping with apiVersion, kind and metadata, not ${what}` });
    return [];
  }
  if (value.kind === "List" && value.apiVersion === "v1") return listItems(raw, value, problems);
  return [candidate(raw, [], value)];
}

/** `kind: List` is what `berth get -o yaml` and `kubectl get -o yaml` print; apply takes it back. */
function listItems(raw: RawDoc, list: Record<string, unknown>, problems: ManifestProblem[]): Candidate[] {
  if (!Array.isArray(list.items)) {
    problems.push({ file: raw.file, line: lineOfPath(raw, ["items"]), field: "items", message: "must be of type array" });
    return [];
  }
  const out: Candidate[] = [];
  list.items.forEach((item, i) => {
    if (isPlainObject(item)) out.push(candidate(raw, ["items", i], item));
    else problems.push({ file: raw.file, line: lineOfPath(raw, ["items", i]), field: `items[${i}]`, message: "must be a mapping (an object)" });
  });
  return out;
}

function candidate(raw: RawDoc, base: PathSegment[], object: Record<string, unknown>): Candidate {
  return { raw, base, object, lineOf: (field) => lineOfPath(raw, [...base, ...parseFieldPath(field)]) };
}

/** Walks the YAML nodes along path; stops at the deepest one that exists. */
function lineOfPath(raw: RawDoc, fieldPath: PathSegment[]): number {
  let node: unknown = raw.doc.contents;
  let line = raw.line;
  for (const seg of fieldPath) {
    if (isAlias(node)) node = node.resolve(raw.doc);
    let next: { at: Node | null | undefined; value: unknown } | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair) next = { at: pair.key as Node, value: pair.value };
    } else if (isSeq(node) && typeof seg === "number" && seg < node.items.length) {
      const item = node.items[seg] as Node;
      next = { at: item, value: item };
    }
    if (!next) break;
    const start = next.at?.range?.[0];
    if (start !== undefined) line = raw.lineCounter.linePos(start).line;
    node = next.value;
  }
  return line;
}

function checkObject(c: Candidate, seen: Map<string, string>, problems: ManifestProblem[]): ManifestDoc | undefined {
  const before = problems.length;
  const fields = new Set<string>();
  const report = (field: string | undefined, message: string, line = field ? c.lineOf(field) : c.lineOf("")): void => {
    if (field !== undefined) {
      if (fields.has(field)) return;
      fields.add(field);
    }
    problems.push({ file: c.raw.file, line, field, message });
  };
  const kind = checkTypeMeta(c.object, report);
  if (!kind) return undefined;
  for (const cause of validateObject(kind, c.object)) report(cause.field || undefined, cause.message);
  checkNamespace(kind, c.object, report);
  for (const field of unknownFields(kind, c.object)) report(field, `unknown field: not in the ${typeof kind === "string" ? kind : kind.kind} schema`, c.lineOf(field));
  checkDuplicate(c, kind, seen, report);
  if (problems.length > before) return undefined;
  return {
    file: c.raw.file,
    line: c.base.length ? c.lineOf("") : c.raw.line,
    index: c.raw.index,
    object: c.object,
    kind,
    lineOf: c.lineOf,
  };
}

type Report = (field: string | undefined, message: string, line?: number) => void;

function checkTypeMeta(obj: Record<string, unknown>, report: Report): KindInfo | undefined {
  const supported = KINDS.map((k) => JSON.stringify(k.kind)).join(", ");
  if (obj.apiVersion === undefined || obj.apiVersion === null) report("apiVersion", `Required value: use ${API_VERSION}`);
  else if (obj.apiVersion !== API_VERSION) report("apiVersion", `Unsupported value: ${JSON.stringify(obj.apiVersion)}: supported values: "${API_VERSION}"`);
  if (obj.kind === undefined || obj.kind === null) {
    report("kind", `Required value: supported kinds: ${supported}`);
    return undefined;
  }
  const kind = KINDS.find((k) => k.kind === obj.kind);
  if (!kind) report("kind", `Unsupported value: ${JSON.stringify(obj.kind)}: supported kinds: ${supported}`);
  return kind;
}

function checkNamespace(kind: KindInfo, obj: Record<string, unknown>, report: Report): void {
  const metadata = isPlainObject(obj.metadata) ? obj.metadata : {};
  const namespace = metadata.namespace;
  if (kind.namespaced && (namespace === undefined || namespace === null || namespace === "")) {
    report("metadata.namespace", `Required value: ${kind.kind} is namespaced; set it to the Project's name`);
  } else if (!kind.namespaced && namespace !== undefined && namespace !== null) {
    report("metadata.namespace", `Forbidden: ${kind.kind} is cluster-scoped; remove metadata.namespace`);
  }
}

/** The same object twice would be applied twice, the second silently winning. */
function checkDuplicate(c: Candidate, kind: KindInfo, seen: Map<string, string>, report: Report): void {
  const metadata = isPlainObject(c.object.metadata) ? c.object.metadata : {};
  if (typeof metadata.name !== "string") return;
  const namespace = kind.namespaced && typeof metadata.namespace === "string" ? metadata.namespace : "";
  const key = `${kind.kind}/${namespace}/${metadata.name}`;
  const here = `${c.raw.file}:${c.lineOf("metadata.name")}`;
  const first = seen.get(key);
  if (first === undefined) {
    seen.set(key, here);
    return;
  }
  const shown = namespace ? `${namespace}/${metadata.name}` : metadata.name;
  report("metadata.name", `Duplicate value: ${kind.kind} "${shown}" is already defined at ${first}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
