import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { freePort } from "../../src/store/embedded.js";
import { tempDir } from "./berth.js";

/** pebble (Debian's package), a small ACME CA, on 127.0.0.1 with a TLS certificate of its own. */
export interface TestPebble {
  directory: string;
  /** The certificate of pebble's own ACME listener, for Caddy's trusted_roots_pem_files. */
  listenerCertFile: string;
  /** The root that signs the certificates pebble issues (management API /roots/0). */
  issuingRoot(): Promise<string>;
  logs(): string;
  stop(): Promise<void>;
}

export async function startPebble(): Promise<TestPebble> {
  const dir = tempDir("berth-pebble-");
  const cert = path.join(dir, "cert.pem");
  const key = path.join(dir, "key.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=pebble", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert], { stdio: "ignore" });
  const [acmePort, mgmtPort, httpPort, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = path.join(dir, "pebble.json");
  writeFileSync(config, JSON.stringify({ pebble: { listenAddress: `127.0.0.1:${acmePort}`, managementListenAddress: `127.0.0.1:${mgmtPort}`, certificate: cert, privateKey: key, httpPort, tlsPort, ocspResponderURL: "", externalAccountBindingRequired: false } }));
  // Every challenge passes (no public name to reach) and no nonce is rejected on purpose.
  const env = { ...process.env, PEBBLE_VA_ALWAYS_VALID: "1", PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" };
  const child: ChildProcess = spawn("pebble", ["-config", config], { env, stdio: ["ignore", "pipe", "pipe"], cwd: dir });
  let logs = "";
  child.stdout!.on("data", (b: Buffer) => (logs += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (logs += b.toString()));
  const ca = readFileSync(cert, "utf8");
  const get = (url: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      https.get(url, { ca }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      }).on("error", reject);
    });
  const directory = `https://127.0.0.1:${acmePort}/dir`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pebble exited with ${child.exitCode}:\n${logs}`);
    const ok = await get(directory).then((r) => r.status === 200).catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`pebble did not come up:\n${logs}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    directory,
    listenerCertFile: cert,
    issuingRoot: async () => (await get(`https://127.0.0.1:${mgmtPort}/roots/0`)).body,
    logs: () => logs,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
