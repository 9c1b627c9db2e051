/**
 * Just enough Kubernetes protobuf to read the review requests kubectl sends (issue 17). kubectl
 * posts SelfSubjectAccessReview, SelfSubjectRulesReview and SelfSubjectReview as
 * `application/vnd.kubernetes.protobuf` (typed built-in clients), not JSON; it accepts a JSON
 * answer. The envelope is the 4 magic bytes `k8s\0` and a runtime.Unknown message
 * {1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType}; `raw` is
 * the object, whose string fields are all this needs.
 */
import { badRequest } from "../core/errors.js";

export const PROTOBUF = "application/vnd.kubernetes.protobuf";
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** A message's fields by number: each occurrence's bytes (length-delimited) or number (varint). */
export type Fields = Map<number, (Buffer | number)[]>;

function varint(buf: Buffer, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const b = buf[i];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(b & 0x80)) return [value, i + 1];
  }
  throw badRequest("malformed protobuf: a varint runs past the end");
}

/** The fields of one protobuf message; wire types varint, 64-bit, length-delimited and 32-bit. */
export function fields(buf: Buffer): Fields {
  const out: Fields = new Map();
  let at = 0;
  while (at < buf.length) {
    const [key, next] = varint(buf, at);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    let value: Buffer | number;
    if (wire === 0) [value, at] = varint(buf, next);
    else if (wire === 2) {
      const [len, start] = varint(buf, next);
      if (start + len > buf.length) throw badRequest("malformed protobuf: a field runs past the end");
      value = buf.subarray(start, start + len);
      at = start + len;
    } else if (wire === 1 || wire === 5) {
      at = next + (wire === 1 ? 8 : 4);
      if (at > buf.length) throw badRequest("malformed protobuf: a field runs past the end");
      value = 0;
    } else throw badRequest(`malformed protobuf: wire type ${wire}`);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

/** The last occurrence of a length-delimited field, as a message's fields. */
export function message(f: Fields, n: number): Fields | undefined {
  const v = f.get(n)?.at(-1);
  return Buffer.isBuffer(v) ? fields(v) : undefined;
}

export function text(f: Fields | undefined, n: number): string {
  const v = f?.get(n)?.at(-1);
  return Buffer.isBuffer(v) ? v.toString("utf8") : "";
}

/** The object inside a `k8s\0` envelope, as its fields, with its apiVersion and kind. */
export function unwrap(body: Buffer): { apiVersion: string; kind: string; object: Fields } {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw badRequest("a protobuf body starts with the bytes k8s\\0");
  const unknown = fields(body.subarray(4));
  const typeMeta = message(unknown, 1);
  const raw = unknown.get(2)?.at(-1);
  return { apiVersion: text(typeMeta, 1), kind: text(typeMeta, 2), object: fields(Buffer.isBuffer(raw) ? raw : Buffer.alloc(0)) };
}
