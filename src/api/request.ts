import type { KindInfo } from "../core/kinds.js";
import type { RequestContext } from "../core/types.js";

/** One parsed API request against a resource path. */
export interface ResourceRequest {
  kind: KindInfo;
  namespace?: string;
  name?: string;
  subresource?: "status" | "scale";
  query: URLSearchParams;
  accept?: string;
  contentType?: string;
  body?: Buffer;
  ctx: RequestContext;
}

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}
