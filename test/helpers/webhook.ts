import https from "node:https";
import { jsonOrText, type HttpReply } from "./berth.js";

/** A delivery as a provider sends it: no bearer token, its own headers, the raw body. */
export async function deliver(berth: { url: string; caPem: string }, name: string, body: string, headers: Record<string, string>, method = "POST"): Promise<HttpReply> {
  // A name is a Sync's; a path (/hooks/git/P/NAME) is used as it is.
  const url = new URL(name.startsWith("/") ? name : `/hooks/sync/${name}`, berth.url);
  return await new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca: berth.caPem, headers: { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(body)), "User-Agent": "GitHub-Hookshot/test", ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: jsonOrText(text), text });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}
