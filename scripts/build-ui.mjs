// Builds the web dashboard (ui/, issue 19, ADR 0019) into dist/ui with esbuild: one minified
// script and one stylesheet with content hashes under dist/ui/assets/, and an index.html that
// names them (no inline script or style: the Content-Security-Policy forbids both).
import { build } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export async function buildUi(repo, out) {
  const dir = path.join(out, "ui");
  mkdirSync(path.join(dir, "assets"), { recursive: true });
  const result = await build({
    entryPoints: { app: path.join(repo, "ui/src/main.tsx") },
    outdir: path.join(dir, "assets"),
    entryNames: "[name]-[hash]",
    absWorkingDir: repo,
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    jsx: "automatic",
    jsxImportSource: "preact",
    tsconfig: path.join(repo, "ui/tsconfig.json"),
    metafile: true,
    legalComments: "none",
    logLevel: "warning",
  });
  const outputs = Object.keys(result.metafile.outputs).map((f) => path.relative(dir, path.resolve(repo, f)).split(path.sep).join("/"));
  const js = outputs.find((f) => f.endsWith(".js"));
  const css = outputs.find((f) => f.endsWith(".css"));
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Berth</title>
<link rel="icon" href="/ui/favicon.svg">
${css ? `<link rel="stylesheet" href="/ui/${css}">\n` : ""}<script type="module" src="/ui/${js}"></script>
</head>
<body>
<div id="app"></div>
</body>
</html>
`;
  writeFileSync(path.join(dir, "index.html"), html);
  writeFileSync(path.join(dir, "favicon.svg"), '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><path d="M1 11h14l-2 4H3z" fill="#0550ae"/><path d="M8 1v9M8 2l5 7H8" stroke="#0550ae" fill="none"/></svg>\n');
  return { files: ["index.html", "favicon.svg", ...outputs] };
}
