import { describe, expect, it } from "vitest";
import { outputShape, specSummary } from "./specText";

// specs as the server sends them in a node's status (NetworkSpec.to_json, TableSpec.to_json)
const conv = { port_type: "network", inputs: [{ name: "image", shape: [1, 28, 28], dtype: "float32" }],
  outputs: [{ name: "conv1", shape: [32, 26, 26], dtype: "float32" }], layers: [{}, {}] };
const table = { columns: [{ name: "image", kind: "tensor", shape: [1, 28, 28] }, { name: "label", kind: "integer" }] };

describe("port specs in words", () => {
  it("gives a layer node's output shape", () => {
    expect(outputShape(conv)).toBe("32×26×26");
    expect(outputShape({ ...conv, outputs: [{ name: "a", shape: [null, 64] }, { name: "b", shape: [64] }] })).toBe("?×64 | 64");
    expect(outputShape(table)).toBe("");
    expect(outputShape(null)).toBe("");
  });
  it("summarises networks and tables", () => {
    expect(specSummary(conv)).toBe("inputs image 1×28×28 → outputs conv1 32×26×26 (2 layers)");
    expect(specSummary(table)).toBe("2 columns: image (tensor 1×28×28), label (integer)");
    expect(specSummary(null)).toMatch(/not known/);
  });
});
