import { expect } from "chai";
import { duplicateFields } from "../../src/api/duplicate-keys.js";

describe("duplicate JSON fields", () => {
  it("names each field given twice by its path, at any depth and inside lists", () => {
    const text = `{"kind":"Application","metadata":{"name":"a","labels":{"x":"1","x":"2"}},"spec":{"replicas":1,"ports":[{"containerPort":80},{"containerPort":81,"containerPort":82}],"replicas":3}}`;
    expect(duplicateFields(text)).to.deep.equal(["metadata.labels.x", "spec.ports[1].containerPort", "spec.replicas"]);
  });

  it("finds none in ordinary bodies, whatever the strings hold", () => {
    const text = JSON.stringify({ a: '{"b":1,"b":2}', c: ['"', { d: "}" }], e: { f: { g: [1, [2, { h: 1 }]] } }, h: 1 });
    expect(duplicateFields(text)).to.deep.equal([]);
    expect(duplicateFields(`[{"op":"add","path":"/x"},{"op":"add"}]`)).to.deep.equal([]);
  });

  it("tells keys that are the same once decoded", () => {
    expect(duplicateFields(String.raw`{"a":1,"\u0061":2}`)).to.deep.equal(["a"]);
  });
});
