#!/usr/bin/env node
// Only src/store/ issues SQL (DESIGN §2a). dependency-cruiser keeps typeorm and pg inside it;
// this catches the other way in: a `.query(` call on something handed out of the store.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

const root = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "src");
const offenders = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith(".ts") && !p.startsWith(path.join(root, "store") + path.sep)) {
      readFileSync(p, "utf8").split("\n").forEach((line, i) => {
        if (/\.query\(/.test(line)) offenders.push(`${path.relative(path.dirname(root), p)}:${i + 1}: ${line.trim()}`);
      });
    }
  }
}
walk(root);
if (offenders.length) {
  console.error(`SQL outside src/store/ (only the store's repositories issue queries; DESIGN §2a):\n${offenders.join("\n")}`);
  process.exit(1);
}
console.log("no SQL outside src/store/");
