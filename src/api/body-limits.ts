import { ApiError, badRequest } from "../core/errors.js";

/**
 * How deep a body may nest. Every later step (pruning, merging, server-side apply, the store)
 * walks objects recursively, so a deeper body is refused before any of them; no manifest
 * nests anywhere near it.
 */
export const MAX_BODY_DEPTH = 100;

/** Depth of objects and arrays in `value`, counted without recursion and given up once past `limit`. */
export function nestingDepth(value: unknown, limit: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    max = Math.max(max, d + 1);
    if (max > limit) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

function childPath(parent: string, key: string, inArray: boolean): string {
  if (inArray) return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

/** A NUL or half of a UTF-16 surrogate pair: JSON can carry them, Postgres cannot store them. */
const UNSTORABLE = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The field path of the first string (value or key) Postgres could not store. */
export function unstorableField(value: unknown): string | undefined {
  const stack: [unknown, string][] = [[value, ""]];
  while (stack.length) {
    const [v, at] = stack.pop()!;
    if (typeof v === "string" && UNSTORABLE.test(v)) return at || "(body)";
    if (v === null || typeof v !== "object") continue;
    const inArray = Array.isArray(v);
    for (const [k, child] of Object.entries(v)) {
      const p = childPath(at, k, inArray);
      if (UNSTORABLE.test(k)) return p;
      stack.push([child, p]);
    }
  }
  return undefined;
}

/** Refuses a decoded body that later steps could not handle: too deep (400), or a string Postgres cannot store (422 naming the field). */
export function checkBody(value: unknown): void {
  if (nestingDepth(value, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) throw badRequest(`the body of the request nests deeper than ${MAX_BODY_DEPTH} levels`);
  const field = unstorableField(value);
  if (field === undefined) return;
  const message = "Invalid value: strings may not contain NUL (\\u0000) or an unpaired UTF-16 surrogate";
  throw new ApiError(422, "Invalid", `${field}: ${message}`, { causes: [{ field, reason: "FieldValueInvalid", message }] });
}

/** A body that must be one JSON object (not null, an array or a scalar). */
export function requireObject<T extends object>(value: unknown, what = "the body of the request"): T {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw badRequest(`${what} must be a JSON object, got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}`);
  return value as T;
}

/**
 * The request line: percent-escapes that do not decode are 400 (not a URIError deep in
 * routing), and so is a NUL in the path or the query (Postgres cannot compare with one).
 */
export function checkRequestUrl(url: URL): void {
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    throw badRequest(`the path of the request has a malformed percent-escape: ${url.pathname.slice(0, 200)}`);
  }
  const query = [...url.searchParams.entries()].flat();
  if (path.includes("\0") || query.some((s) => s.includes("\0"))) throw badRequest("the path or query of the request contains NUL (%00)");
}
