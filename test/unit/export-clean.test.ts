import { expect } from "chai";
import { kindInfo } from "../../src/core/kinds.js";
import { applyDefaults } from "../../src/schema/crds.js";
import { cleanObject, jsonEqual, withoutDefaults } from "../../src/cli/objects/export-clean.js";

const APP = kindInfo("Application");
const DOMAIN = kindInfo("Domain");
const SYNC = kindInfo("Sync");

/** What the server stores for a manifest: its spec with the CRD defaults filled in. */
function stored(kind: string, spec: Record<string, unknown>): Record<string, any> {
  return applyDefaults(kind, { spec }).spec as Record<string, any>;
}

describe("export: cleaning a live object into a manifest", () => {
  it("drops server-set metadata, status and Berth's annotations; keeps labels, user annotations and foreign finalizers", () => {
    const live = {
      apiVersion: "berth.dev/v1alpha1",
      kind: "Domain",
      metadata: {
        name: "web", namespace: "shop", uid: "u", resourceVersion: "7", generation: 2, creationTimestamp: "2026-01-01T00:00:00Z", managedFields: [{}],
        labels: { a: "b" },
        annotations: { "berth.dev/applied-by": "berth-apply", "berth.dev/sync": "infra", "berth.dev/prune": "disabled", "kubectl.kubernetes.io/last-applied-configuration": "{}", note: "x" },
        finalizers: ["berth.dev/route", "example.com/keep"],
      },
      spec: stored("Domain", { host: "a.example.com", target: { application: "web", port: 80 } }),
      status: { phase: "Ready" },
    };
    const { object } = cleanObject(DOMAIN, live);
    expect(object).to.deep.equal({
      apiVersion: "berth.dev/v1alpha1",
      kind: "Domain",
      metadata: { name: "web", namespace: "shop", labels: { a: "b" }, annotations: { "berth.dev/prune": "disabled", note: "x" }, finalizers: ["example.com/keep"] },
      spec: { host: "a.example.com", target: { application: "web", port: 80 } },
    });
  });

  it("leaves out exactly what defaulting puts back, and nothing else", () => {
    const written = {
      source: { image: "nginx" },
      replicas: 2,
      ports: [{ containerPort: 80 }, { containerPort: 53, protocol: "udp" }],
      healthcheck: { http: { port: 80 } },
      strategy: { type: "RollingUpdate" },
    };
    const live = stored("Application", written);
    expect(live.ports[0].protocol).to.equal("tcp");
    const out = withoutDefaults(APP, live);
    expect(out.ports).to.deep.equal([{ containerPort: 80 }, { containerPort: 53, protocol: "udp" }]);
    // healthcheck.http.path defaults to "/", but http has no default: only its path goes.
    expect(out.healthcheck).to.deep.equal({ http: { port: 80 } });
    // The only field left in an object stays, so the object reads as written.
    expect(out.strategy).to.deep.equal({ type: "RollingUpdate" });
    expect(jsonEqual(applyDefaults("Application", { spec: out }).spec, live)).to.equal(true);
  });

  it("writes sealed secrets as they came, <redacted> with redact, and never a plain value", () => {
    const live = { kind: "Application", metadata: { name: "a", namespace: "p" }, spec: stored("Application", { source: { image: "x" }, secretEnv: { A: "sealed:v1:abc", B: "plain!" } }) };
    const sealed = cleanObject(APP, live);
    expect((sealed.object.spec as any).secretEnv).to.deep.equal({ A: "sealed:v1:abc", B: "<redacted>" });
    expect(sealed.unsealed).to.deep.equal(["spec.secretEnv.B"]);
    const redacted = cleanObject(APP, live, { redact: true });
    expect((redacted.object.spec as any).secretEnv).to.deep.equal({ A: "<redacted>", B: "<redacted>" });
    expect(live.spec.secretEnv.B).to.equal("plain!");
    const sync = cleanObject(SYNC, { kind: "Sync", metadata: { name: "s" }, spec: { source: { git: { url: "https://x", auth: { token: "tok" } } }, webhook: { secret: "sealed:v1:w" } } });
    expect(sync.object.spec).to.deep.equal({ source: { git: { url: "https://x", auth: { token: "<redacted>" } } }, webhook: { secret: "sealed:v1:w" } });
    expect(sync.unsealed).to.deep.equal(["spec.source.git.auth.token"]);
  });

  it("puts keys in the CRD's order and map keys alphabetically", () => {
    const live = { kind: "Application", metadata: { name: "a", namespace: "p" }, spec: { env: { Z: "1", A: "2" }, replicas: 2, source: { image: "x" } } };
    const spec = cleanObject(APP, live).object.spec as Record<string, any>;
    expect(Object.keys(spec)).to.deep.equal(["source", "replicas", "env"]);
    expect(Object.keys(spec.env)).to.deep.equal(["A", "Z"]);
  });
});
