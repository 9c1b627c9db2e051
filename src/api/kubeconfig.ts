import { writeFileSync } from "node:fs";
import YAML from "yaml";

/** The kubeconfig `berth serve` writes on start, the way k3s does, so kubectl works at once. */
export function kubeconfigYaml(server: string, caPem: string, token: string): string {
  return YAML.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "berth", cluster: { server, "certificate-authority-data": Buffer.from(caPem).toString("base64") } }],
    users: [{ name: "berth-admin", user: { token } }],
    contexts: [{ name: "berth", context: { cluster: "berth", user: "berth-admin" } }],
    "current-context": "berth",
    preferences: {},
  });
}

export function writeKubeconfig(file: string, server: string, caPem: string, token: string): void {
  writeFileSync(file, kubeconfigYaml(server, caPem, token), { mode: 0o600 });
}
