import { expect } from "chai";
import { expectGolden } from "../helpers/golden.js";
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { FINALIZER } from "../../src/core/kinds.js";
import type { ResourceObject } from "../../src/core/types.js";
import { childObject, composeAliases, describeChildStep, planChildren } from "../../src/reconcilers/application/compose-children.js";
import { composeStatusFor } from "../../src/reconcilers/application/compose-status.js";
import { configHash, containerCreateOptions, type AppRuntimeSpec } from "../../src/runtime/container-spec.js";
import { admit } from "../../src/schema/admission.js";
import { shellSplit, composeDurationMs, parseEnvFile } from "../../src/schema/compose-keys.js";
import { composeSchemaDigest, composeSchemaText } from "../../src/schema/compose-spec.js";
import { ComposeError, translateCompose } from "../../src/schema/compose.js";
import { kindInfo } from "../../src/core/kinds.js";
import { exportable } from "../../src/cli/objects/export.js";
import { ApiError } from "../../src/core/errors.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const GOLDEN = path.join(HERE, "..", "golden", "compose.txt");
const CASES = path.join(HERE, "..", "fixtures", "compose");

/** The files env_file may name in the cases, in memory. */
const FILES: Record<string, string> = {
  "/srv/shop/web.env": "# comment\nexport MODE=prod\nGREETING=\"hello world\" \nPORT=8080 # inline comment\n",
  "/srv/shop/extra.env": "PORT=9090\n",
};
const read = (p: string): string => {
  if (FILES[p] === undefined) throw Object.assign(new Error("missing"), { code: "ENOENT" });
  return FILES[p];
};

/** Each case file: a compose file; the golden text has what it translates to, or its errors. */
function render(): string {
  const out: string[] = [];
  for (const file of readdirSorted(CASES)) {
    const text = readFileSync(path.join(CASES, file), "utf8");
    out.push(`## ${file}`);
    try {
      const children = translateCompose(text, { app: "shop", dir: "/srv/shop", read, parent: { strategy: { type: "RollingUpdate", maxSurge: 1, maxUnavailable: 0 } } });
      out.push(stringify(children.map((c) => ({ [c.name]: c.spec })), { lineWidth: 0, aliasDuplicateObjects: false }).trimEnd());
    } catch (e) {
      if (!(e instanceof ComposeError)) throw e;
      out.push(...e.problems.map((p) => `error: ${p}`));
    }
    out.push("");
  }
  return out.join("\n");
}

function readdirSorted(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();
}

const parent: ResourceObject = { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "shop", namespace: "p", uid: "11111111-1111-1111-1111-111111111111", generation: 2 }, spec: {} };

describe("compose: translation of a compose file into one Application per service", () => {
  it("produces the Applications (or the errors) in test/golden/compose.txt", () => {
    const actual = render();
    expectGolden(GOLDEN, actual);
  });

  it("validates against the Compose Specification schema shipped by dclint 3.1.0 (pinned by digest; ADR 0017)", () => {
    const schema = JSON.parse(composeSchemaText());
    expect(schema.$id).to.equal("compose_spec.json");
    // Keys of the specification's 2025 revisions: a stale schema would not have them.
    expect(schema.definitions.service.properties).to.include.keys("post_start", "pre_stop", "models", "provider", "use_api_socket", "gpus");
    expect(composeSchemaDigest()).to.equal("46b7d35f19dd93a05f8fea530291bf84d881c1791ec167ecf0e6fb94e639d496");
  });

  it("splits command strings as a shell does, and reads compose durations and env files", () => {
    expect(shellSplit(`sh -c 'echo "a b"; exit 0'  x\\ y "q\\"q"`)).to.deep.equal(["sh", "-c", 'echo "a b"; exit 0', "x y", 'q"q']);
    expect(composeDurationMs("1m30s")).to.equal(90_000);
    expect(composeDurationMs("1.5s")).to.equal(1500);
    expect(composeDurationMs("10")).to.equal(undefined);
    expect(parseEnvFile("A=1\n# c\nexport B='x # y'\nC=\"l1\\nl2\"\nD=v # c\n")).to.deep.equal({ A: "1", B: "x # y", C: "l1\nl2", D: "v" });
  });
});

describe("compose: admission", () => {
  const app = (content: string, spec: Record<string, unknown> = {}): ResourceObject => ({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "shop", namespace: "p" }, spec: { source: { compose: { content } }, ...spec } });
  const causes = (obj: ResourceObject): string[] => {
    try {
      admit(kindInfo("Application"), obj, "Strict", []);
    } catch (e) {
      expect(e).to.be.instanceOf(ApiError);
      expect((e as ApiError).code).to.equal(422);
      return ((e as ApiError).details?.causes ?? []).map((c) => `${c.field}: ${c.message}`);
    }
    return [];
  };

  it("accepts a file Berth can carry out", () => {
    expect(causes(app("services:\n  web:\n    image: nginx:1\n"))).to.deep.equal([]);
  });

  it("refuses a key Berth does not support with a 422 naming the service and the key", () => {
    expect(causes(app("services:\n  web:\n    image: nginx:1\n    privileged: true\n"))).to.deep.equal(["spec.source.compose.content: services.web.privileged: not supported by Berth"]);
  });

  it("refuses a key outside the Compose Specification", () => {
    expect(causes(app("services:\n  web:\n    image: nginx:1\n    colour: blue\n"))).to.deep.equal(["spec.source.compose.content: services.web.colour: not a key of the Compose Specification"]);
  });

  it("validates each service's Application as an apply would (env names, a fixed host port with replicas)", () => {
    const got = causes(app("services:\n  web:\n    image: nginx:1\n    environment: {lower: x}\n    ports: ['8080:80']\n    deploy: {replicas: 2}\n"));
    expect(got.join("\n")).to.contain("services.web: as Application shop-web, spec.env");
    expect(got.join("\n")).to.contain("hostPort needs replicas <= 1");
  });

  it("refuses parent fields that each service sets for itself", () => {
    expect(causes(app("services:\n  web:\n    image: nginx:1\n", { ports: [{ containerPort: 80 }], replicas: 3 }))).to.deep.equal([
      "spec.ports: not used with source.compose: set it per service in the compose file",
      "spec.replicas: not used with source.compose: set deploy.replicas per service in the compose file",
    ]);
  });

  it("reads host files only below $BERTH_COMPOSE_DIR (symlinks resolved), naming only the error code", () => {
    const fileApp = (file: string): ResourceObject => ({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "shop", namespace: "p" }, spec: { source: { compose: { file } } } });
    const saved = process.env.BERTH_COMPOSE_DIR;
    const root = mkdtempSync(path.join(os.tmpdir(), "berth-compose-unit-"));
    try {
      delete process.env.BERTH_COMPOSE_DIR;
      expect(causes(fileApp("/etc/hostname"))).to.deep.equal(["spec.source.compose.file: reading compose files on the host is off: the server's BERTH_COMPOSE_DIR names the directories they may be read from"]);
      process.env.BERTH_COMPOSE_DIR = root;
      expect(causes(fileApp("/etc/hostname"))).to.deep.equal(["spec.source.compose.file: /etc/hostname is outside the directories the server reads compose files from (BERTH_COMPOSE_DIR)"]);
      symlinkSync("/etc/hostname", path.join(root, "escape.yaml"));
      expect(causes(fileApp(path.join(root, "escape.yaml")))[0]).to.contain("is outside the directories");
      expect(causes(fileApp(path.join(root, "missing.yaml")))).to.deep.equal([`spec.source.compose.file: cannot read ${path.join(root, "missing.yaml")} (ENOENT)`]);
      writeFileSync(path.join(root, "compose.yaml"), "services:\n  web:\n    image: nginx:1\n    env_file: [../../etc/hostname]\n");
      expect(causes(fileApp(path.join(root, "compose.yaml")))[0]).to.contain("services.web.env_file[0]: /etc/hostname is outside the directories");
      writeFileSync(path.join(root, "web.env"), "A=1\n");
      writeFileSync(path.join(root, "compose.yaml"), "services:\n  web:\n    image: nginx:1\n    env_file: [web.env]\n");
      expect(causes(fileApp(path.join(root, "compose.yaml")))).to.deep.equal([]);
    } finally {
      if (saved === undefined) delete process.env.BERTH_COMPOSE_DIR;
      else process.env.BERTH_COMPOSE_DIR = saved;
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("compose: the children plan and the parent's status", () => {
  const children = translateCompose("services:\n  web:\n    image: a:1\n  db:\n    image: b:1\n", { app: "shop" });
  const stored = (c: (typeof children)[number], over: Partial<ResourceObject["metadata"]> = {}, status: Record<string, unknown> = {}): ResourceObject => {
    const o = childObject(parent, c);
    return { ...o, metadata: { ...o.metadata, uid: `uid-${c.name}`, generation: 1, finalizers: [FINALIZER.runtime], ...over }, status };
  };

  it("creates the missing, updates the drifted, deletes the removed, and leaves strangers alone", () => {
    const web = stored(children[0]);
    const driftedDb = { ...stored(children[1]), spec: { ...stored(children[1]).spec, replicas: 5 } };
    const gone = { ...stored({ service: "old", name: "shop-old", spec: { source: { image: "x" } } }) };
    const stranger: ResourceObject = { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "shop-web", namespace: "p", uid: "other" }, spec: {} };
    expect(planChildren(parent, children, [web, driftedDb, gone]).steps.map(describeChildStep)).to.deep.equal([
      "update Application/shop-db: spec.replicas differ from the compose file",
      "delete Application/shop-old: service old is no longer in the compose file",
    ]);
    expect(planChildren(parent, children, []).steps.map((s) => `${s.op} ${s.name}`)).to.deep.equal(["create shop-web", "create shop-db"]);
    const conflict = planChildren(parent, children, [stranger]);
    expect(conflict.conflicts).to.deep.equal(["shop-web"]);
    expect(conflict.steps.map((s) => `${s.op} ${s.name}`)).to.deep.equal(["create shop-db"]);
  });

  it("is Ready only when every service's Application is Ready for its generation, with per-service status", () => {
    const ready = { observedGeneration: 1, phase: "running", readySummary: "1/1", replicas: 1, readyReplicas: 1, conditions: [{ type: "Ready", status: "True", reason: "ReplicasReady", message: "1/1 replicas ready" }] };
    const waiting = { observedGeneration: 1, phase: "failed", readySummary: "0/1", replicas: 0, conditions: [{ type: "Ready", status: "False", reason: "DependencyNotReady", message: "waiting for Application/shop-db to be Ready" }] };
    const plan = { steps: [], conflicts: [], terminating: [] };
    const half = composeStatusFor(parent, { plan, services: [{ service: "web", name: "shop-web", child: stored(children[0], {}, waiting) }, { service: "db", name: "shop-db", child: stored(children[1], {}, ready) }] }, {}, "2026-01-01T00:00:00Z");
    const cond = (half.status.conditions as { type: string; status: string; reason: string; message: string }[]).find((c) => c.type === "Ready")!;
    expect(cond).to.deep.include({ status: "False", reason: "ServicesNotReady", message: "1/2 services ready; web: DependencyNotReady (waiting for Application/shop-db to be Ready)" });
    expect(half.status).to.deep.include({ observedGeneration: 2, readySummary: "1/2 services", replicas: 1, readyReplicas: 1, phase: "deploying" });
    // Waiting for a dependency is not trouble: not Degraded.
    expect((half.status.conditions as { type: string; status: string }[]).find((c) => c.type === "Degraded")!.status).to.equal("False");
    const all = composeStatusFor(parent, { plan, services: [{ service: "web", name: "shop-web", child: stored(children[0], {}, ready) }, { service: "db", name: "shop-db", child: stored(children[1], {}, ready) }] }, {});
    expect((all.status.conditions as { type: string; status: string }[]).find((c) => c.type === "Ready")!.status).to.equal("True");
    expect(all.requeueAfter).to.equal(undefined);
  });
});

describe("compose: a service's name on the Project network", () => {
  const rt: AppRuntimeSpec = { project: "p", name: "shop-web", uid: "u", image: "a:1", env: {}, ports: [], volumes: [] };

  it("is an extra alias of a child's containers, and absent (config hash unchanged) for every other Application", () => {
    const child = childObject(parent, { service: "web", name: "shop-web", spec: { source: { image: "a:1" } } });
    expect(composeAliases(child)).to.deep.equal(["web"]);
    expect(composeAliases({ ...child, metadata: { ...child.metadata, annotations: {} } })).to.equal(undefined);
    expect(configHash({ ...rt, aliases: undefined })).to.equal(configHash(rt));
    const aliases = containerCreateOptions({ ...rt, aliases: ["web"] }, 0, "h", { replicas: 1, graceSeconds: 10 }).NetworkingConfig?.EndpointsConfig?.["berth-p"]?.Aliases;
    expect(aliases).to.deep.equal(["shop-web", "shop-web-0", "web"]);
  });
});

describe("compose: export", () => {
  it("leaves out the services' Applications: the compose Application that makes them is exported", () => {
    const child = childObject(parent, { service: "web", name: "shop-web", spec: { source: { image: "a:1" } } });
    expect(exportable(child)).to.equal(false);
    expect(exportable(parent)).to.equal(true);
  });
});
