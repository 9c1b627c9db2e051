import { expect } from "chai";
import { ApiError } from "../../src/core/errors.js";
import { generateName } from "../../src/core/names.js";
import { OBJECT_FIELDS, parseFieldSelector } from "../../src/core/selectors.js";

const obj = (name: string, namespace?: string): unknown => ({ metadata: { name, namespace } });

describe("field selectors", () => {
  it("=, == and != on metadata.name and metadata.namespace, every term must hold", () => {
    const fs = parseFieldSelector("metadata.name!=web,metadata.namespace==shop");
    expect(fs.matches(obj("api", "shop"))).to.equal(true);
    expect(fs.matches(obj("web", "shop"))).to.equal(false);
    expect(fs.matches(obj("api", "other"))).to.equal(false);
    expect(parseFieldSelector("metadata.name=web").matches(obj("web"))).to.equal(true);
  });

  it("keeps equality terms as narrowing hints, never inequality ones", () => {
    expect(parseFieldSelector("metadata.name=web,metadata.namespace!=x")).to.include({ name: "web", namespace: undefined });
    expect(parseFieldSelector("metadata.namespace=shop").namespace).to.equal("shop");
    expect(parseFieldSelector(undefined).terms).to.deep.equal([]);
    expect(parseFieldSelector("").matches(obj("any"))).to.equal(true);
  });

  it("reads a missing field as empty: a cluster-scoped object's namespace is \"\"", () => {
    expect(parseFieldSelector("metadata.namespace=").matches(obj("p"))).to.equal(true);
    expect(parseFieldSelector("metadata.namespace!=shop").matches(obj("p"))).to.equal(true);
  });

  it("refuses a field label the kind does not support, with Kubernetes' message", () => {
    for (const text of ["spec.replicas=1", "status.phase!=x", "metadata.name"]) {
      let err: unknown;
      try {
        parseFieldSelector(text, OBJECT_FIELDS);
      } catch (e) {
        err = e;
      }
      expect(err, text).to.be.instanceOf(ApiError);
      expect((err as ApiError).code).to.equal(400);
    }
    expect(() => parseFieldSelector("spec.replicas=1")).to.throw("field label not supported: spec.replicas");
  });

  it("takes other field labels when given them", () => {
    const fs = parseFieldSelector("status.phase=Active", { "status.phase": (o: any) => o.status?.phase });
    expect(fs.matches({ status: { phase: "Active" } })).to.equal(true);
    expect(fs.matches({ status: { phase: "Terminating" } })).to.equal(false);
  });
});

describe("generated names", () => {
  it("are the prefix and 5 characters of Kubernetes' alphabet", () => {
    for (let i = 0; i < 50; i++) expect(generateName("web-")).to.match(/^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(generateName("x-", () => 0)).to.equal("x-bbbbb");
  });

  it("cut the prefix to 58 characters so the name fits a 63-character label", () => {
    expect(generateName("a".repeat(100))).to.have.length(63);
  });
});
