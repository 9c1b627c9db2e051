import { writeFileSync } from "node:fs";

/**
 * The kubeconfig `berth serve` writes on start, the way k3s does, so kubectl works at once.
 * Written as indented JSON, which is YAML (kubectl and client-node read it as such), so that
 * `berth` reads it without loading a YAML parser (docs/adr/0014-compiled-cli-and-footprint.md).
 */
export function kubeconfigYaml(server: string, caPem: string, token: string): string {
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "berth", cluster: { server, "certificate-authority-data": Buffer.from(caPem).toString("base64") } }],
    users: [{ name: "berth-admin", user: { token } }],
    contexts: [{ name: "berth", context: { cluster: "berth", user: "berth-admin" } }],
    "current-context": "berth",
    preferences: {},
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export function writeKubeconfig(file: string, server: string, caPem: string, token: string): void {
  writeFileSync(file, kubeconfigYaml(server, caPem, token), { mode: 0o600 });
}
