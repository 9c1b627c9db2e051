import { expect } from "chai";
import { PollLoop } from "../../src/controller/poll-loop.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("PollLoop: the backup workers' and job scheduler's pass loop", () => {
  it("runs passes one after another, never two at once; a failed pass is reported and the loop goes on", async () => {
    let running = 0;
    let most = 0;
    let passes = 0;
    const errors: string[] = [];
    const loop = new PollLoop(async () => {
      running++;
      most = Math.max(most, running);
      passes++;
      await sleep(15);
      running--;
      if (passes === 2) throw new Error("store down");
    }, { everyMs: 5, onError: (e) => errors.push(e.message) });
    loop.start(0);
    loop.start(0);
    await sleep(150);
    await loop.stop();
    expect(most).to.equal(1);
    expect(passes).to.be.at.least(4);
    expect(errors).to.deep.equal(["store down"]);
  });

  it("stop() waits for the pass under way; a stopped loop stays stopped", async () => {
    let finished = false;
    let passes = 0;
    const loop = new PollLoop(async () => {
      passes++;
      await sleep(50);
      finished = true;
    }, { everyMs: 1, onError: () => undefined });
    loop.start(0);
    await sleep(10);
    await loop.stop();
    expect(finished, "stop returned before the pass ended").to.equal(true);
    loop.start(0);
    await sleep(30);
    expect(passes).to.equal(1);
    expect(loop.isStopped).to.equal(true);
  });
});
