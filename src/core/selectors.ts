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

/** How a field selector term compares: `=` and `==` are the same; `!=` negates. */
export interface FieldTerm {
  field: string;
  equal: boolean;
  value: string;
}

/** Where each field label a kind supports is read from; a missing value reads as "". */
export type FieldPaths = Readonly<Record<string, (o: any) => unknown>>;

/** The field labels every object supports (a cluster-scoped object's namespace is ""). */
export const OBJECT_FIELDS: FieldPaths = {
  "metadata.name": (o) => o.metadata?.name,
  "metadata.namespace": (o) => o.metadata?.namespace,
};

/**
 * A parsed field selector: a predicate over an object, plus the values of its equality terms
 * on name and namespace, which the store can use to narrow its query before the predicate runs.
 */
export interface FieldSelector {
  terms: readonly FieldTerm[];
  name?: string;
  namespace?: string;
  matches(o: unknown): boolean;
  /** The value of the first equality term on `field`: a narrowing hint, never the whole filter. */
  equality(field: string): string | undefined;
}

/** Field selectors: comma-separated `field=value`, `field==value`, `field!=value` over `fields`. */
export function parseFieldSelector(text: string | undefined, fields: FieldPaths = OBJECT_FIELDS): FieldSelector {
  const terms = (text ?? "").split(",").filter((t) => t.trim()).map((t) => parseFieldTerm(t.trim(), fields));
  const equality = (field: string): string | undefined => terms.find((t) => t.field === field && t.equal)?.value;
  return {
    terms,
    name: equality("metadata.name"),
    namespace: equality("metadata.namespace"),
    equality,
    matches: (o) => terms.every((t) => (String(fields[t.field](o) ?? "") === t.value) === t.equal),
  };
}

function parseFieldTerm(term: string, fields: FieldPaths): FieldTerm {
  const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
  const field = m?.[1] ?? term.split(/[=!]/)[0].trim();
  if (!Object.hasOwn(fields, field)) throw badRequest(`field label not supported: ${field}`);
  if (!m) throw badRequest(`invalid field selector: "${term}": expected field=value or field!=value`);
  return { field, equal: m[2] !== "!=", value: m[3].trim() };
}
