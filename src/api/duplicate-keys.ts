import { badRequest } from "../core/errors.js";

/**
 * Fields given twice in one JSON object (`{"replicas": 1, "replicas": 3}`). JSON.parse keeps the
 * last silently; the Kubernetes API server reports them under fieldValidation Strict (400) and
 * Warn (a warning). Scans text JSON.parse has already accepted, without recursion (bodies nest
 * up to the depth limit), and returns each duplicate's path, e.g. `spec.replicas`.
 */
export function duplicateFields(text: string): string[] {
  const scan = new Scan();
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') i = scan.string(text, i);
    else if (ch === "{" || ch === "[") scan.open(ch);
    else if (ch === "}" || ch === "]") scan.frames.pop();
    else if (ch === ",") scan.comma();
  }
  return scan.found;
}

interface Frame {
  path: string;
  /** Set for an object: the keys seen so far. */
  keys?: Set<string>;
  expectKey: boolean;
  index: number;
}

class Scan {
  readonly found: string[] = [];
  readonly frames: Frame[] = [];
  private key = "";

  private get top(): Frame | undefined {
    return this.frames[this.frames.length - 1];
  }

  /** A string at `start`: a key when an object expects one. Returns the index of its closing quote. */
  string(text: string, start: number): number {
    const end = stringEnd(text, start);
    const top = this.top;
    if (top?.keys && top.expectKey) {
      this.key = JSON.parse(text.slice(start, end + 1)) as string;
      if (top.keys.has(this.key)) this.found.push(join(top.path, this.key));
      top.keys.add(this.key);
      top.expectKey = false;
    }
    return end;
  }

  open(ch: "{" | "["): void {
    const top = this.top;
    const path = !top ? "" : join(top.path, top.keys ? this.key : `[${top.index}]`);
    this.frames.push(ch === "{" ? { path, keys: new Set(), expectKey: true, index: 0 } : { path, index: 0, expectKey: false });
  }

  comma(): void {
    const top = this.top;
    if (top?.keys) top.expectKey = true;
    else if (top) top.index++;
  }
}

function join(path: string, key: string): string {
  if (key.startsWith("[")) return `${path}${key}`;
  return path ? `${path}.${key}` : key;
}

/** The index of the quote that closes the string opening at `start`. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i;
  }
  return text.length - 1;
}

/**
 * fieldValidation for duplicate fields in a JSON body, as the Kubernetes API server does it:
 * Strict → 400 naming them, Warn → a warning each, Ignore → nothing. YAML bodies need no check:
 * the YAML parser already refuses a repeated key.
 */
export function checkDuplicateFields(body: Buffer | undefined, format: "json" | "yaml", mode: "Strict" | "Warn" | "Ignore", warnings: string[]): void {
  if (mode === "Ignore" || format !== "json" || !body) return;
  const found = duplicateFields(body.toString("utf8")).map((f) => `duplicate field "${f}"`);
  if (found.length && mode === "Strict") throw badRequest(`strict decoding error: ${found.join(", ")}`);
  warnings.push(...found);
}
