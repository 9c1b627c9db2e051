/**
 * Fields given twice in one JSON object (`{"replicas": 1, "replicas": 3}`). JSON.parse keeps the
 * last silently; the Kubernetes API server reports them under fieldValidation Strict (400) and
 * Warn (a warning). Scans text JSON.parse has already accepted, without recursion (bodies nest
 * up to the depth limit), and returns each duplicate's path, e.g. `spec.replicas`.
 */
export function duplicateFields(text: string): string[] {
  const found: string[] = [];
  const frames: Frame[] = [];
  let key: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      const end = stringEnd(text, i);
      const top = frames[frames.length - 1];
      if (top?.keys && top.expectKey) {
        key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.keys.has(key)) found.push(join(top.path, key));
        top.keys.add(key);
        top.expectKey = false;
      }
      i = end;
    } else if (ch === "{" || ch === "[") {
      const top = frames[frames.length - 1];
      const path = top ? join(top.path, top.keys ? (key ?? "") : `[${top.index}]`) : "";
      frames.push(ch === "{" ? { path, keys: new Set(), expectKey: true, index: 0 } : { path, index: 0, expectKey: false });
    } else if (ch === "}" || ch === "]") {
      frames.pop();
    } else if (ch === ",") {
      const top = frames[frames.length - 1];
      if (top?.keys) top.expectKey = true;
      else if (top) top.index++;
    }
  }
  return found;
}

interface Frame {
  path: string;
  /** Set for an object: the keys seen so far. */
  keys?: Set<string>;
  expectKey: boolean;
  index: number;
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
