import { expect } from "chai";
import type { QueryRunner } from "typeorm";
import { RevisionStore } from "../src/store/revisions.js";
import { call, startTestBerth } from "./helpers/berth.js";

type TestBerth = Awaited<ReturnType<typeof startTestBerth>>;

/**
 * ADR 0005: what users send is committed durably; what controllers derive may skip the WAL
 * flush. Every transaction's statements are recorded, and the setting is read back inside it.
 */
describe("commit durability", () => {
  let berth: TestBerth;
  const transactions: string[][] = [];

  before(async () => {
    berth = await startTestBerth();
    const ds = berth.dataSource;
    const create = ds.createQueryRunner.bind(ds);
    ds.createQueryRunner = (...args: Parameters<typeof create>): QueryRunner => {
      const qr = create(...args);
      const query = qr.query.bind(qr);
      let current: string[] | undefined;
      qr.query = (async (sql: string, params?: unknown[], ...rest: unknown[]) => {
        if (/^(START TRANSACTION|BEGIN)/i.test(sql)) transactions.push((current = []));
        const result = await (query as (...a: unknown[]) => Promise<unknown>)(sql, params, ...rest);
        // Read the setting the transaction runs with just before it commits.
        if (current && /^COMMIT/i.test(sql)) current = undefined;
        else if (current && !/^(START TRANSACTION|BEGIN)/i.test(sql)) {
          current.push(sql);
          const [{ s }] = (await query(`SELECT current_setting('synchronous_commit') AS s`)) as { s: string }[];
          current.push(`-- synchronous_commit=${s}`);
        }
        return result;
      }) as QueryRunner["query"];
      return qr;
    };
  });

  after(async () => {
    await berth?.cleanup();
  });

  const settingsOf = (tx: string[]): string[] => [...new Set(tx.filter((l) => l.startsWith("-- synchronous_commit=")))];
  const writing = (pattern: RegExp): string[][] => transactions.filter((t) => t.some((l) => pattern.test(l)));

  it("commits a user's write durably", async () => {
    transactions.length = 0;
    const r = await call(berth, "POST", "/apis/berth.dev/v1alpha1/projects", { apiVersion: "berth.dev/v1alpha1", kind: "Project", metadata: { name: "durable" }, spec: {} });
    expect(r.status, r.text).to.equal(201);
    const txs = writing(/INSERT INTO "?projects"?/i);
    expect(txs, "the Project's insert transaction").to.have.length(1);
    expect(settingsOf(txs[0]!)).to.deep.equal(["-- synchronous_commit=on"]);
  });

  it("commits a controller's status write and its records without waiting for the WAL flush", async () => {
    transactions.length = 0;
    await berth.store.update({ kind: "Project", namespace: undefined, name: "durable" }, { user: "system:berth-controller" }, "update-status", (cur) => ({ ...cur!, status: { phase: "active" } }));
    const txs = writing(/UPDATE "?projects"?/i);
    expect(txs, "the status update transaction").to.have.length(1);
    expect(settingsOf(txs[0]!).at(-1)).to.equal("-- synchronous_commit=off");

    // Deployment records go through the DataSource's own transactions.
    const ds = berth.dataSource;
    const created = await call(berth, "POST", "/apis/berth.dev/v1alpha1/namespaces/durable/applications", { apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "web", namespace: "durable" }, spec: { source: { image: "berth-test/busybox:1" } } });
    expect(created.status, created.text).to.equal(201);
    const appRow = { id: created.body.metadata.uid as string };
    transactions.length = 0;
    const recorder = new RevisionStore(ds);
    const id = await recorder.ensure({ apiVersion: "berth.dev/v1alpha1", kind: "Application", metadata: { name: "web", namespace: "durable", uid: appRow.id }, spec: {} }, "h1", 1);
    expect(id).to.be.a("string");
    const inserts = writing(/INSERT INTO deployments/i);
    expect(inserts).to.have.length(1);
    expect(settingsOf(inserts[0]!).at(-1)).to.equal("-- synchronous_commit=off");
  });
});
