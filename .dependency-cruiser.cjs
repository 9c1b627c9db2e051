/**
 * The layers of DESIGN §2a, enforced on every `npm test` (docs/architecture.md explains them).
 * Bottom up — each may import only those below it:
 *   core, telemetry → schema → store → runtime → router → controller → reconcilers → api, cli → main
 * plus: no cycles; only store/ talks to Postgres (typeorm, pg); only runtime/ talks to Docker
 * (dockerode); reconciler folders share only reconcilers/shared/.
 */
const below = {
  core: [],
  telemetry: [],
  schema: ["core"],
  store: ["core", "schema", "telemetry"],
  runtime: ["core", "telemetry"],
  router: ["core", "telemetry", "runtime", "store"],
  controller: ["core", "telemetry", "runtime", "store"],
  reconcilers: ["core", "telemetry", "schema", "store", "runtime", "router", "controller"],
  api: ["core", "telemetry", "schema", "store", "runtime"],
  cli: ["core", "schema"],
};

/** What a layer may reach besides the layers below it (the CLI starts the server; see the rule below). */
const extra = {
  cli: ["^src/router/settings\\.ts$", "^src/main\\.ts$", "^src/store/embedded\\.ts$", "^src/telemetry/logger\\.ts$"],
};

const layerRules = Object.entries(below).map(([layer, allowed]) => ({
  name: `layer-${layer}`,
  comment: `src/${layer}/ may import only ${allowed.length ? allowed.map((l) => `src/${l}/`).join(", ") : "itself"} (DESIGN §2a)`,
  severity: "error",
  from: { path: `^src/${layer}/` },
  to: {
    path: "^src/",
    pathNot: [`^src/${layer}/`, ...allowed.map((l) => `^src/${l}/`), ...(extra[layer] ?? [])],
  },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: "cli-loads-the-server-lazily",
      comment: "the CLI may start the server (serve) only by dynamic import, so other commands stay fast; it reads router flags from src/router/settings.ts",
      severity: "error",
      from: { path: "^src/cli/" },
      to: { path: "^src/(main|store/embedded|telemetry/logger)\\.ts$", dynamic: false, dependencyTypesNot: ["type-only"] },
    },
    {
      name: "no-circular",
      comment: "no import cycle anywhere in src/",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "only-store-talks-to-postgres",
      comment: "only src/store/ issues SQL: typeorm and pg stay behind its repositories",
      severity: "error",
      from: { path: "^src/", pathNot: ["^src/store/", "^src/main\\.ts$"] },
      to: { path: "node_modules/(typeorm|pg)/" },
    },
    {
      name: "only-runtime-talks-to-docker",
      comment: "only src/runtime/ uses dockerode: everything else goes through the RuntimeDriver interface",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/runtime/" },
      to: { path: "node_modules/(dockerode|docker-modem)/" },
    },
    {
      name: "reconcilers-share-only-shared",
      comment: "one folder per kind; what two kinds share lives in reconcilers/shared/",
      severity: "error",
      from: { path: "^src/reconcilers/([^/]+)/" },
      to: { path: "^src/reconcilers/", pathNot: ["^src/reconcilers/$1/", "^src/reconcilers/shared/"] },
    },
    {
      name: "nothing-imports-main",
      comment: "main.ts only wires: nothing below it imports it (the CLI starts it by dynamic import)",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/cli/" },
      to: { path: "^src/main\\.ts$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
    exclude: { path: "^(test|bench)/" },
  },
};
