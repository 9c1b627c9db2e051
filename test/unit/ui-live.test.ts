import { expect } from "chai";
import { can } from "../../ui/src/api.js";
import { liveList } from "../../ui/src/live.js";

/** A fetch the test answers by hand, recording each request and whether its signal was aborted. */
interface Pending {
  url: string;
  signal?: AbortSignal;
  answer(body: unknown, stream?: boolean): void;
}

function fakeFetch(): { calls: Pending[]; restore(): void } {
  const real = globalThis.fetch;
  const calls: Pending[] = [];
  globalThis.fetch = ((url: string, init?: RequestInit): Promise<Response> => new Promise((resolve, reject) => {
    const signal = init?.signal ?? undefined;
    signal?.addEventListener("abort", () => reject(Object.assign(new Error("aborted"), { name: "AbortError" })));
    calls.push({
      url,
      signal,
      answer: (body, stream = false) => {
        const text = JSON.stringify(body) + "\n";
        // A watch stays open: its body never ends on its own.
        const rs = new ReadableStream({ start: (c) => { c.enqueue(new TextEncoder().encode(text)); if (!stream) c.close(); } });
        resolve(new Response(rs, { status: 200 }));
      },
    });
  })) as typeof fetch;
  return { calls, restore: () => void (globalThis.fetch = real) };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe("dashboard live lists (ui/src/live.ts): a stopped list opens no watch", () => {
  it("unsubscribed while its list is in flight, it aborts the list and never starts the watch", async () => {
    const f = fakeFetch();
    try {
      const off = liveList("/apis/x/v1/things").subscribe(() => undefined);
      await tick();
      expect(f.calls.map((c) => c.url)).to.deep.equal(["/apis/x/v1/things"]);
      off();
      expect(f.calls[0].signal?.aborted, "the list's request is aborted").to.equal(true);
      f.calls[0].answer({ metadata: { resourceVersion: "5" }, items: [] });
      await tick();
      expect(f.calls, "no watch after the stop").to.have.length(1);
    } finally {
      f.restore();
    }
  });

  it("unsubscribed while watching, it aborts the watch's stream", async () => {
    const f = fakeFetch();
    try {
      const seen: number[] = [];
      const list = liveList("/apis/x/v1/others");
      const off = list.subscribe(() => seen.push(list.items.size));
      await tick();
      f.calls[0].answer({ metadata: { resourceVersion: "7" }, items: [] });
      await tick();
      expect(f.calls[1].url).to.match(/watch=true.*resourceVersion=7$/);
      f.calls[1].answer({ type: "ADDED", object: { metadata: { name: "a", resourceVersion: "8" } } }, true);
      await tick();
      expect(seen.at(-1)).to.equal(1);
      off();
      expect(f.calls[1].signal?.aborted).to.equal(true);
      await tick();
      expect(f.calls).to.have.length(2);
    } finally {
      f.restore();
    }
  });
});

describe("dashboard permission checks (ui/src/api.ts can)", () => {
  const realFetch = globalThis.fetch;
  const g = globalThis as { document?: { cookie: string } };
  let answers: (() => Promise<Response>)[];
  let asked = 0;
  beforeEach(() => {
    g.document = { cookie: "berth_csrf=t" };
    asked = 0;
    globalThis.fetch = (() => (asked++, answers.shift()!())) as typeof fetch;
  });
  afterEach(() => {
    globalThis.fetch = realFetch;
    delete g.document;
  });
  const allowed = (yes: boolean): Promise<Response> => Promise.resolve(new Response(JSON.stringify({ status: { allowed: yes } }), { status: 201 }));

  it("a question that failed on the way (a dropped connection, a 503) is asked again until it is answered", async () => {
    answers = [() => Promise.reject(new TypeError("Failed to fetch")), () => Promise.resolve(new Response("{}", { status: 503 })), () => allowed(true)];
    expect(await can("create", "rollback", "shop")).to.equal(true);
    expect(asked).to.equal(3);
  });

  it("an answer is final: allowed false, or a 403, is no without asking again", async () => {
    answers = [() => allowed(false)];
    expect(await can("patch", "applications", "shop")).to.equal(false);
    answers = [() => Promise.resolve(new Response(JSON.stringify({ message: "forbidden" }), { status: 403 }))];
    expect(await can("patch", "applications", "shop")).to.equal(false);
    expect(asked).to.equal(2);
  });
});
