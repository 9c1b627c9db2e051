import { expect } from "chai";
import net from "node:net";
import { yieldToOthers } from "../../src/api/backpressure.js";

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** Long replies take turns with everyone else's I/O: one piece per event-loop turn (issue 21). */
describe("yieldToOthers: long replies interleaved with other requests", () => {
  it("bytes arriving on a socket are read after at most a couple of pieces, however many long replies are running", async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
    const [peer] = await Promise.all([new Promise<net.Socket>((r) => server.once("connection", r)), new Promise((r) => client.once("connect", r))]);
    let pieces = 0;
    const streams = Array.from({ length: 30 }, async () => {
      for (let i = 0; i < 10; i++) {
        busy(0.5);
        pieces++;
        await yieldToOthers();
      }
    });
    await new Promise((r) => setImmediate(r));
    const waited: number[] = [];
    for (let probe = 0; probe < 5; probe++) {
      const at = pieces;
      await new Promise<void>((resolve) => {
        peer.once("data", () => (waited.push(pieces - at), resolve()));
        client.write("x");
      });
    }
    await Promise.all(streams);
    client.destroy();
    peer.destroy();
    server.close();
    expect(pieces).to.equal(300);
    expect(Math.max(...waited), `pieces run while a callback was due: ${waited.join(", ")}`).to.be.at.most(3);
  });

  it("every waiting piece runs, in the order it yielded", async () => {
    const order: string[] = [];
    await Promise.all(["a", "b", "c"].map(async (name) => {
      for (let i = 0; i < 3; i++) {
        order.push(`${name}${i}`);
        await yieldToOthers();
      }
    }));
    expect(order.join(" ")).to.equal("a0 b0 c0 a1 b1 c1 a2 b2 c2");
  });
});
