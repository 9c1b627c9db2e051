import { badRequest } from "./errors.js";

export type LabelPredicate = (labels: Record<string, string>) => boolean;

/**
 * Kubernetes label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`.
 * Small enough to write here; client libraries only ship the serializing half.
 */
export function parseLabelSelector(text: string | undefined): LabelPredicate | undefined {
  if (!text) return undefined;
  const terms = splitTerms(text).map(parseTerm);
  return (labels) => terms.every((t) => t(labels));
}

function splitTerms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function parseTerm(term: string): LabelPredicate {
  let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (m) {
    const [, key, op, list] = m;
    const values = list.split(",").map((v) => v.trim());
    return op === "in" ? (l) => key in l && values.includes(l[key]) : (l) => !(key in l) || !values.includes(l[key]);
  }
  m = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/.exec(term);
  if (m) {
    const [, key, op, value] = m;
    return op === "!=" ? (l) => l[key] !== value : (l) => l[key] === value;
  }
  m = /^(!?)([\w./-]+)$/.exec(term);
  if (m) {
    const [, not, key] = m;
    return not ? (l) => !(key in l) : (l) => key in l;
  }
  throw badRequest(`unable to parse requirement: invalid label selector "${term}"`);
}

export interface FieldSelector {
  name?: string;
  namespace?: string;
}

/** Only metadata.name and metadata.namespace, which is what kubectl uses for watches. */
export function parseFieldSelector(text: string | undefined): FieldSelector {
  const out: FieldSelector = {};
  if (!text) return out;
  for (const term of text.split(",")) {
    const m = /^(metadata\.name|metadata\.namespace)\s*==?\s*(.*)$/.exec(term.trim());
    if (!m) throw badRequest(`field label not supported: ${term.split(/[=!]/)[0]}`);
    if (m[1] === "metadata.name") out.name = m[2];
    else out.namespace = m[2];
  }
  return out;
}
