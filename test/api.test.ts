import { expect } from "chai";
import https from "node:https";
import { spawnSync } from "node:child_process";
import { startSystemPostgres, type TestPostgres } from "./helpers/postgres.js";
import { call, startTestBerth } from "./helpers/berth.js";
import { SecretBox } from "../src/store/secrets.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;

const G = "/apis/berth.dev/v1alpha1";
const SEALED = /^sealed:v1:[A-Za-z0-9_-]+$/;

function project(name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name }, spec: { description: "test", ...spec } };
}

function app(ns: string, name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name, namespace: ns }, spec: { source: { image: "berth-test/busybox:1" }, replicas: 1, ...spec } };
}

/** Reads a watch stream until `until` says stop; returns the events seen. */
async function readWatch(berth: TestBerth, urlPath: string, until: (events: any[]) => boolean, timeoutMs = 10_000): Promise<any[]> {
  const url = new URL(urlPath, berth.url);
  return await new Promise((resolve, reject) => {
    const events: any[] = [];
    const req = https.request(url, { headers: { Authorization: `Bearer ${berth.token}` }, ca: berth.caPem }, (res) => {
      let buf = "";
      res.on("data", (c: Buffer) => {
        buf += c.toString();
        let i: number;
        while ((i = buf.indexOf("\n")) >= 0) {
          events.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
        if (until(events)) {
          req.destroy();
          resolve(events);
        }
      });
      res.on("end", () => resolve(events));
    });
    req.on("error", (e) => (events.length && until(events) ? resolve(events) : reject(e)));
    setTimeout(() => {
      req.destroy();
      resolve(events);
    }, timeoutMs);
    req.end();
  });
}

const SERVERS: { name: string; start: () => Promise<{ berth: TestBerth; pg?: TestPostgres }> }[] = [
  { name: "embedded postgres (berth serve's default)", start: async () => ({ berth: await startTestBerth() }) },
  {
    name: "external postgres 15 (DATABASE_URL)",
    start: async () => {
      const pg = await startSystemPostgres();
      return { berth: await startTestBerth({ databaseUrl: pg.url }), pg };
    },
  },
];

for (const server of SERVERS) {
  describe(`API server on ${server.name}`, function () {
    this.timeout(120_000);
    let berth: TestBerth;
    let pg: TestPostgres | undefined;

    before(async () => {
      ({ berth, pg } = await server.start());
      const r = await call(berth, "POST", `${G}/projects`, project("shop"));
      expect(r.status, r.text).to.equal(201);
    });

    after(async () => {
      await berth?.cleanup();
      await pg?.stop();
    });

    it("serves discovery: version, groups and resources with short names", async () => {
      const v = await call(berth, "GET", "/version", undefined, { token: null });
      expect(v.body.minor).to.equal("32");
      const apis = await call(berth, "GET", "/apis");
      expect(apis.body.groups[0].name).to.equal("berth.dev");
      const rl = await call(berth, "GET", G);
      const apps = rl.body.resources.find((r: any) => r.name === "applications");
      expect(apps.shortNames).to.deep.equal(["app"]);
      expect(apps.namespaced).to.equal(true);
      expect(rl.body.resources.map((r: any) => r.name)).to.include("applications/status");
    });

    it("refuses requests without a valid token", async () => {
      expect((await call(berth, "GET", `${G}/projects`, undefined, { token: null })).status).to.equal(401);
      expect((await call(berth, "GET", `${G}/projects`, undefined, { token: "wrong" })).status).to.equal(401);
    });

    it("creates, reads, lists and deletes an Application in a Project", async () => {
      const c = await call(berth, "POST", `${G}/namespaces/shop/applications`, app("shop", "web"));
      expect(c.status, c.text).to.equal(201);
      expect(c.body.metadata.uid).to.match(/^[0-9a-f-]{36}$/);
      expect(c.body.metadata.generation).to.equal(1);
      const g = await call(berth, "GET", `${G}/namespaces/shop/applications/web`);
      expect(g.body.spec.replicas).to.equal(1);
      const l = await call(berth, "GET", `${G}/applications`);
      expect(l.body.kind).to.equal("ApplicationList");
      expect(Number(l.body.metadata.resourceVersion)).to.be.at.least(Number(c.body.metadata.resourceVersion));
      expect(l.body.items.map((i: any) => i.metadata.name)).to.include("web");
      const d = await call(berth, "DELETE", `${G}/namespaces/shop/applications/web`);
      expect(d.status).to.equal(200);
      expect((await call(berth, "GET", `${G}/namespaces/shop/applications/web`)).status).to.equal(404);
    });

    it("rejects an invalid object with 422 naming the field, and stores nothing", async () => {
      const r = await call(berth, "POST", `${G}/namespaces/shop/applications`, app("shop", "bad", { replicas: -1 }));
      expect(r.status).to.equal(422);
      expect(r.body.reason).to.equal("Invalid");
      expect(r.body.details.causes.map((c: any) => c.field)).to.include("spec.replicas");
      expect((await call(berth, "GET", `${G}/namespaces/shop/applications/bad`)).status).to.equal(404);
    });

    it("answers 404 for a Project that does not exist", async () => {
      const r = await call(berth, "POST", `${G}/namespaces/nowhere/applications`, app("nowhere", "x"));
      expect(r.status).to.equal(404);
      expect(r.body.message).to.contain('namespaces "nowhere" not found');
    });

    it("handles unknown fields by fieldValidation: Strict 400, Warn header, Ignore drops", async () => {
      const bad = app("shop", "uf", { replicaz: 3 });
      const strict = await call(berth, "POST", `${G}/namespaces/shop/applications?fieldValidation=Strict`, bad);
      expect(strict.status).to.equal(400);
      expect(strict.body.message).to.contain('unknown field "spec.replicaz"');
      const warn = await call(berth, "POST", `${G}/namespaces/shop/applications?fieldValidation=Warn`, bad);
      expect(warn.status).to.equal(201);
      expect(String(warn.headers.warning)).to.contain("spec.replicaz");
      expect(warn.body.spec).to.not.have.property("replicaz");
    });

    it("bumps generation on spec changes only; a no-op write changes nothing", async () => {
      const c = await call(berth, "POST", `${G}/namespaces/shop/applications`, app("shop", "gen"));
      const rv1 = c.body.metadata.resourceVersion;
      const same = await call(berth, "PATCH", `${G}/namespaces/shop/applications/gen`, { spec: { replicas: 1 } }, { contentType: "application/merge-patch+json" });
      expect(same.body.metadata.resourceVersion).to.equal(rv1);
      const label = await call(berth, "PATCH", `${G}/namespaces/shop/applications/gen`, { metadata: { labels: { tier: "web" } } }, { contentType: "application/merge-patch+json" });
      expect(label.body.metadata.generation).to.equal(1);
      expect(Number(label.body.metadata.resourceVersion)).to.be.greaterThan(Number(rv1));
      const spec = await call(berth, "PATCH", `${G}/namespaces/shop/applications/gen`, [{ op: "replace", path: "/spec/replicas", value: 2 }], { contentType: "application/json-patch+json" });
      expect(spec.status, spec.text).to.equal(200);
      expect(spec.body.metadata.generation).to.equal(2);
      const st = await call(berth, "PUT", `${G}/namespaces/shop/applications/gen/status`, { ...spec.body, status: { phase: "running" }, spec: { replicas: 99 } });
      expect(st.status, st.text).to.equal(200);
      expect(st.body.status.phase).to.equal("running");
      expect(st.body.spec.replicas).to.equal(2);
      expect(st.body.metadata.generation).to.equal(2);
      const mainIgnoresStatus = await call(berth, "PATCH", `${G}/namespaces/shop/applications/gen`, { status: { phase: "failed" } }, { contentType: "application/merge-patch+json" });
      expect(mainIgnoresStatus.body.status.phase).to.equal("running");
    });

    it("answers 409 to a stale resourceVersion and never loses an update under concurrent writers", async () => {
      const c = await call(berth, "POST", `${G}/namespaces/shop/applications`, app("shop", "race"));
      const base = c.body;
      const writers = [2, 3].map((n) => call(berth, "PUT", `${G}/namespaces/shop/applications/race`, { ...base, spec: { ...base.spec, replicas: n } }));
      const results = await Promise.all(writers);
      const codes = results.map((r) => r.status).sort();
      expect(codes).to.deep.equal([200, 409]);
      const winner = results.find((r) => r.status === 200)!;
      const loser = results.find((r) => r.status === 409)!;
      expect(loser.body.reason).to.equal("Conflict");
      const now = await call(berth, "GET", `${G}/namespaces/shop/applications/race`);
      expect(now.body.spec.replicas).to.equal(winner.body.spec.replicas);
      // Merge patches without a resourceVersion are read-modify-write under the lock: none is lost.
      await Promise.all(["a", "b", "c", "d", "e"].map((k) => call(berth, "PATCH", `${G}/namespaces/shop/applications/race`, { metadata: { labels: { [k]: "1" } } }, { contentType: "application/merge-patch+json" })));
      const labels = (await call(berth, "GET", `${G}/namespaces/shop/applications/race`)).body.metadata.labels;
      expect(Object.keys(labels).sort()).to.deep.equal(["a", "b", "c", "d", "e"]);
    });

    it("keeps an object with finalizers until they are removed, with deletionTimestamp set", async () => {
      const o = app("shop", "fin");
      (o.metadata as any).finalizers = ["test.berth.dev/hold"];
      await call(berth, "POST", `${G}/namespaces/shop/applications`, o);
      const d = await call(berth, "DELETE", `${G}/namespaces/shop/applications/fin`);
      expect(d.body.metadata.deletionTimestamp).to.be.a("string");
      const still = await call(berth, "GET", `${G}/namespaces/shop/applications/fin`);
      expect(still.status).to.equal(200);
      const rm = await call(berth, "PATCH", `${G}/namespaces/shop/applications/fin`, { metadata: { finalizers: null } }, { contentType: "application/merge-patch+json" });
      expect(rm.status, rm.text).to.equal(200);
      expect((await call(berth, "GET", `${G}/namespaces/shop/applications/fin`)).status).to.equal(404);
    });

    it("streams watch events and resumes from a resourceVersion without gaps", async () => {
      const c = await call(berth, "POST", `${G}/namespaces/shop/applications`, app("shop", "w1"));
      const from = c.body.metadata.resourceVersion;
      await call(berth, "PATCH", `${G}/namespaces/shop/applications/w1`, { spec: { replicas: 3 } }, { contentType: "application/merge-patch+json" });
      await call(berth, "DELETE", `${G}/namespaces/shop/applications/w1`);
      const events = await readWatch(berth, `${G}/namespaces/shop/applications?watch=true&resourceVersion=${from}`, (ev) => ev.some((e) => e.type === "DELETED"));
      const mine = events.filter((e) => e.object.metadata.name === "w1");
      expect(mine.map((e) => e.type)).to.deep.equal(["MODIFIED", "DELETED"]);
      const rvs = events.map((e) => Number(e.object.metadata.resourceVersion));
      expect(rvs).to.deep.equal([...rvs].sort((a, b) => a - b));
      // resourceVersion 0: synthetic ADDED for what exists, then live changes.
      const live = readWatch(berth, `${G}/namespaces/shop/applications?watch=true&fieldSelector=metadata.name%3Dw2`, (ev) => ev.some((e) => e.type === "MODIFIED"));
      await new Promise((r) => setTimeout(r, 300));
      await call(berth, "POST", `${G}/namespaces/shop/applications`, app("shop", "w2"));
      await call(berth, "PATCH", `${G}/namespaces/shop/applications/w2`, { spec: { replicas: 2 } }, { contentType: "application/merge-patch+json" });
      const seen = await live;
      expect(seen.map((e) => e.type)).to.deep.equal(["ADDED", "MODIFIED"]);
    });

    it("answers a watch from a compacted resourceVersion with 410 Expired", async () => {
      await call(berth, "POST", `${G}/namespaces/shop/applications`, app("shop", "old"));
      await berth.dataSource.query(`DELETE FROM resource_changes WHERE rv < (SELECT max(rv) FROM resource_changes)`);
      const events = await readWatch(berth, `${G}/namespaces/shop/applications?watch=true&resourceVersion=1`, (ev) => ev.length > 0, 3000);
      expect(events[0].type).to.equal("ERROR");
      expect(events[0].object.code).to.equal(410);
    });

    it("encrypts secretEnv at rest and never returns it", async () => {
      const secret = "s3cr3t-" + Math.random().toString(36).slice(2);
      const c = await call(berth, "POST", `${G}/namespaces/shop/applications`, app("shop", "sec", { secretEnv: { API_KEY: secret } }));
      expect(c.status, c.text).to.equal(201);
      expect(c.text).to.not.contain(secret);
      expect(c.body.spec.secretEnv.API_KEY).to.match(SEALED);
      const rv = c.body.metadata.resourceVersion;
      // Re-sending the same plaintext is a no-op, not a re-encryption.
      const again = await call(berth, "PATCH", `${G}/namespaces/shop/applications/sec`, { spec: { secretEnv: { API_KEY: secret } } }, { contentType: "application/merge-patch+json" });
      expect(again.body.metadata.resourceVersion).to.equal(rv);
      const list = await call(berth, "GET", `${G}/applications`);
      expect(list.text).to.not.contain(secret);
      const dump = await berth.dataSource.query(`SELECT row_to_json(x)::text AS j FROM (SELECT * FROM applications) x UNION ALL SELECT row_to_json(x)::text FROM (SELECT * FROM env_vars) x UNION ALL SELECT row_to_json(x)::text FROM (SELECT * FROM resource_changes) x UNION ALL SELECT row_to_json(x)::text FROM (SELECT * FROM audit_logs) x`);
      const all = dump.map((r: any) => r.j).join("\n");
      expect(all).to.contain("API_KEY");
      expect(all).to.not.contain(secret);
      const envRow = await berth.dataSource.query(`SELECT value, is_secret FROM env_vars WHERE key = 'API_KEY'`);
      expect(envRow[0].is_secret).to.equal(true);
      expect(envRow[0].value).to.match(/^enc:v1:/);
      if (pg) {
        const out = spawnSync("pg_dump", [pg.url], { encoding: "utf8" });
        expect(out.status, out.stderr).to.equal(0);
        expect(out.stdout).to.contain("API_KEY");
        expect(out.stdout).to.not.contain(secret);
      }
    });

    it("reads secretEnv back as sealed strings that every write path takes back for their own field only", async () => {
      const secret = "s3cr3t-" + Math.random().toString(36).slice(2);
      const item = `${G}/namespaces/shop/applications/sealed`;
      const c = await call(berth, "POST", `${G}/namespaces/shop/applications`, app("shop", "sealed", { secretEnv: { TOKEN: secret } }));
      expect(c.status, c.text).to.equal(201);
      const sealed: string = c.body.spec.secretEnv.TOKEN;
      expect(sealed).to.match(SEALED);
      const box = SecretBox.fromEnvOrDataDir(berth.dataDir);
      const atRest = async (name = "sealed"): Promise<string | undefined> => (await berth.dataSource.query(`SELECT spec->'secretEnv'->>'TOKEN' AS t FROM applications WHERE name = $1`, [name]))[0]?.t;
      const stored = await atRest();
      const rv = c.body.metadata.resourceVersion;
      const merge = { contentType: "application/merge-patch+json" };
      const json = { contentType: "application/json-patch+json" };
      const ssa = { contentType: "application/apply-patch+yaml" };
      // The sealed string sent back is the stored secret: a no-op for PUT and both patch types.
      const same = [
        await call(berth, "PUT", item, c.body),
        await call(berth, "PATCH", item, { spec: { secretEnv: { TOKEN: sealed } } }, merge),
        await call(berth, "PATCH", item, [{ op: "replace", path: "/spec/secretEnv/TOKEN", value: sealed }], json),
        await call(berth, "PATCH", `${item}?dryRun=All`, { spec: { secretEnv: { TOKEN: sealed } } }, merge),
      ];
      for (const r of same) {
        expect(r.status, r.text).to.equal(200);
        expect(r.body.metadata.resourceVersion).to.equal(rv);
        expect(r.body.spec.secretEnv.TOKEN).to.equal(sealed);
      }
      const applied = await call(berth, "PATCH", `${item}?fieldManager=test`, app("shop", "sealed", { secretEnv: { TOKEN: sealed } }), ssa);
      expect(applied.status, applied.text).to.equal(200);
      const batch = await call(berth, "POST", "/berth/v1/apply", { items: [app("shop", "sealed", { secretEnv: { TOKEN: sealed } })] });
      expect(batch.status, batch.text).to.equal(200);
      expect(batch.body.items[0].object.spec.secretEnv.TOKEN).to.equal(sealed);
      expect(await atRest(), "no write re-encrypted or replaced the secret").to.equal(stored);
      expect(box.decrypt(stored!)).to.equal(secret);

      // Moved anywhere else, it is refused on every path and nothing is stored.
      expect((await call(berth, "POST", `${G}/namespaces/shop/applications`, app("shop", "other-app", { secretEnv: { TOKEN: "x-1" } }))).status).to.equal(201);
      const before = { other: await atRest("other-app"), rv: (await call(berth, "GET", `${G}/applications`)).body.metadata.resourceVersion };
      const foreign = [
        await call(berth, "POST", `${G}/namespaces/shop/applications`, app("shop", "copy", { secretEnv: { TOKEN: sealed } })),
        await call(berth, "POST", `${G}/namespaces/shop/applications?dryRun=All`, app("shop", "copy", { secretEnv: { TOKEN: sealed } })),
        await call(berth, "PATCH", `${G}/namespaces/shop/applications/other-app`, { spec: { secretEnv: { TOKEN: sealed } } }, merge),
        await call(berth, "PATCH", item, [{ op: "add", path: "/spec/secretEnv/COPY", value: sealed }], json),
        await call(berth, "PATCH", `${G}/namespaces/shop/applications/copy?fieldManager=test`, app("shop", "copy", { secretEnv: { TOKEN: sealed } }), ssa),
      ];
      for (const r of foreign) {
        expect(r.status, r.text).to.equal(422);
        expect(r.body.reason).to.equal("Invalid");
        expect(r.body.message).to.match(/spec\.secretEnv\.(TOKEN|COPY): Invalid value: "sealed:v1:[^"]+": this sealed value belongs to another object or key/);
      }
      const batchForeign = await call(berth, "POST", "/berth/v1/apply", { items: [app("shop", "fine", { replicas: 2 }), app("shop", "copy", { secretEnv: { TOKEN: sealed } })] });
      expect(batchForeign.status, batchForeign.text).to.equal(422);
      expect(batchForeign.body.details.causes[0].field).to.equal("items[1].spec.secretEnv.TOKEN");
      expect((await call(berth, "GET", `${G}/namespaces/shop/applications/copy`)).status).to.equal(404);
      expect((await call(berth, "GET", `${G}/namespaces/shop/applications/fine`)).status, "nothing of the batch").to.equal(404);
      expect(await atRest("other-app")).to.equal(before.other);
      expect((await call(berth, "GET", `${G}/applications`)).body.metadata.resourceVersion, "nothing was stored").to.equal(before.rv);
    });

    it("refuses <redacted> where no value is stored, on create, apply and batch apply", async () => {
      const placeholder = app("shop", "placeholder", { secretEnv: { TOKEN: "<redacted>" } });
      const attempts = [
        await call(berth, "POST", `${G}/namespaces/shop/applications`, placeholder),
        await call(berth, "PATCH", `${G}/namespaces/shop/applications/placeholder?fieldManager=test`, placeholder, { contentType: "application/apply-patch+yaml" }),
        await call(berth, "POST", "/berth/v1/apply", { items: [placeholder] }),
      ];
      for (const r of attempts) {
        expect(r.status, r.text).to.equal(422);
        expect(r.body.message).to.contain('spec.secretEnv.TOKEN: "<redacted>" keeps a stored value, and this object has none');
      }
      expect((await call(berth, "GET", `${G}/namespaces/shop/applications/placeholder`)).status).to.equal(404);
    });

    it("writes an audit_logs row for every mutation, with client address and user agent", async () => {
      await call(berth, "POST", `${G}/namespaces/shop/applications`, app("shop", "audited"));
      const rows = await berth.dataSource.query(`SELECT action, resource_type, host(ip_address) AS ip, user_agent, details FROM audit_logs WHERE details->>'name' = 'audited'`);
      expect(rows).to.have.length(1);
      expect(rows[0].action).to.equal("create");
      expect(rows[0].resource_type).to.equal("application");
      expect(rows[0].ip).to.equal("127.0.0.1");
      expect(rows[0].details.after.spec.replicas).to.equal(1);
    });

    it("applies a batch all or nothing", async () => {
      const items = [project("batch"), app("batch", "ok"), app("batch", "broken", { replicas: -5 })];
      const r = await call(berth, "POST", "/berth/v1/apply", { items });
      expect(r.status).to.equal(422);
      expect(r.body.details.causes[0].field).to.equal("items[2].spec.replicas");
      expect((await call(berth, "GET", `${G}/projects/batch`)).status).to.equal(404);
      const ok = await call(berth, "POST", "/berth/v1/apply", { items: items.slice(0, 2) });
      expect(ok.status, ok.text).to.equal(200);
      expect(ok.body.items.map((i: any) => i.action)).to.deep.equal(["created", "created"]);
      const again = await call(berth, "POST", "/berth/v1/apply", { items: items.slice(0, 2) });
      expect(again.body.items.map((i: any) => i.action)).to.deep.equal(["unchanged", "unchanged"]);
    });

    it("serves Projects as namespaces", async () => {
      const ns = await call(berth, "GET", "/api/v1/namespaces/shop");
      expect(ns.body.kind).to.equal("Namespace");
      expect(ns.body.status.phase).to.equal("Active");
      expect((await call(berth, "GET", "/api/v1/namespaces/none")).status).to.equal(404);
    });
  });
}
