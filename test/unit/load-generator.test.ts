import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { startLoad } from "../helpers/load.js";

/** The traffic tests' load generator must blame the server only for what the server did. */
describe("load generator (test/helpers/load.ts) on 127.0.0.1", () => {
  let server: http.Server;
  let port = 0;
  let hold = false;
  const held: http.ServerResponse[] = [];

  before(async () => {
    server = http.createServer((_req, res) => (hold ? held.push(res) : res.end("ok")));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const r of held) r.end();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("its own process stalling for 1 s is a reported stall, not failed requests", async () => {
    const load = startLoad({ port, host: "x.test", rate: 50 });
    await new Promise((r) => setTimeout(r, 300));
    const until = Date.now() + 1000;
    while (Date.now() < until); // the event loop blocked, as a long GC or a busy in-process server does
    await new Promise((r) => setTimeout(r, 300));
    const r = await load.stop();
    expect(r.failed, r.failures.join("\n")).to.equal(0);
    expect(r.stalls, "the stall is reported").to.have.length(1);
    expect(r.stalls[0]).to.match(/generator stalled \d+ ms, \d+ slots not sent/);
    expect(r.sent).to.be.within(20, 45);
  });

  it("a server that stops answering still fails: the in-flight limit fills and later slots are not sent", async () => {
    hold = true;
    const load = startLoad({ port, host: "x.test", rate: 50, maxInFlight: 8 });
    await new Promise((r) => setTimeout(r, 600));
    hold = false;
    for (const res of held.splice(0)) res.end("late");
    const r = await load.stop();
    expect(r.stalls).to.deep.equal([]);
    expect(r.failed).to.be.greaterThan(10);
    expect(r.failures[0]).to.match(/not sent: 8 requests still in flight/);
  });
});
