import { expect } from "chai";
import { firstFreeSubnet, parseCidr, poolExhausted, subnetTaken } from "../../src/runtime/subnets.js";

describe("subnets for Project networks beyond the engine's pools", () => {
  it("the first /24 of the pool that overlaps no network", () => {
    expect(firstFreeSubnet("172.16.0.0/16", [])).to.equal("172.16.0.0/24");
    expect(firstFreeSubnet("172.16.0.0/16", ["172.17.0.0/16", "172.16.0.0/24", "172.16.1.0/24"])).to.equal("172.16.2.0/24");
    expect(firstFreeSubnet("172.16.0.0/16", ["172.16.0.0/23"]), "a wider network covers two /24s").to.equal("172.16.2.0/24");
    expect(firstFreeSubnet("172.16.0.0/16", ["172.16.0.0/12"]), "a network covering the whole pool").to.equal(undefined);
    expect(firstFreeSubnet("10.9.0.0/23", ["10.9.0.0/24"], new Set(["10.9.1.0/24"])), "skipped candidates are not offered again").to.equal(undefined);
    expect(firstFreeSubnet("172.16.0.0/16", ["fd00::/64", "garbage"]), "IPv6 and junk are not IPv4 overlaps").to.equal("172.16.0.0/24");
  });

  it("parses and masks IPv4 CIDRs; refuses what is not one; a pool narrower than /24 has no room", () => {
    expect(parseCidr("172.16.5.7/16")).to.deep.equal({ base: parseCidr("172.16.0.0/16")!.base, bits: 16 });
    expect(parseCidr("300.1.1.1/8")).to.equal(undefined);
    expect(parseCidr("10.0.0.0/33")).to.equal(undefined);
    expect(firstFreeSubnet("10.0.0.0/25", [])).to.equal(undefined);
  });

  it("recognises the engine's words for a used-up pool and for a subnet taken meanwhile", () => {
    expect(poolExhausted("create network berth-x: could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")).to.equal(true);
    expect(subnetTaken("Pool overlaps with other one on this address space")).to.equal(true);
    expect(poolExhausted("network with name x already exists")).to.equal(false);
  });
});
