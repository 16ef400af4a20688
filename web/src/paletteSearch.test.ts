import { describe, expect, it } from "vitest";
import type { Catalogue, NodeDesc } from "./graph";
import { rankNodes } from "./paletteSearch";

// real entries of the catalogue (name, type, category, the start of the description)
const rows: [string, string, string, string][] = [
  ["Columns to Tensor", "deepnodes.data.ColumnsToTensor", "Data/Columns", "Packs number columns into one tensor column"],
  ["Network Learner", "deepnodes.dl.NetworkLearner", "Deep Learning/Train and Execute", "Trains a network on a table: one entry in 'inputs' per network input"],
  ["Add Layer", "deepnodes.layers.Add", "Deep Learning/Layers/Merge", "Adds its inputs element-wise (a residual connection)."],
  ["Dense Layer", "deepnodes.layers.Dense", "Deep Learning/Layers/Core", "A fully connected layer: output = activation(input · W + b)"],
  ["Input Layer", "deepnodes.layers.Input", "Deep Learning/Layers/Core", "A network input: the start of every network built from layer nodes"],
  ["Image Reader", "deepnodes.data.ImageReader", "Data/IO", "Reads a folder of images"],
  ["Conv2D Layer", "deepnodes.layers.Conv2D", "Deep Learning/Layers/Convolution", "A 2D convolution over its input"],
];
const cat: Catalogue = Object.fromEntries(rows.map(([name, type, category, description]) =>
  [type, { name, type, category, description, inputs: [], outputs: [], config_schema: {} } as NodeDesc]));

describe("node search", () => {
  it("ranks name matches first", () => {
    const r = rankNodes(cat, "input").map((d) => d.name);
    expect(r[0]).toBe("Input Layer");
    expect(r).toContain("Dense Layer"); // description match, further down
    expect(r.indexOf("Input Layer")).toBeLessThan(r.indexOf("Network Learner"));
  });

  it("needs every word somewhere; prefixes of name words count", () => {
    expect(rankNodes(cat, "conv").map((d) => d.name)[0]).toBe("Conv2D Layer");
    expect(rankNodes(cat, "layer core").map((d) => d.name).sort()).toEqual(["Dense Layer", "Input Layer"]);
    expect(rankNodes(cat, "nothing-like-this")).toEqual([]);
    expect(rankNodes(cat, "  ")).toEqual([]);
  });

  it("every single-word query puts a node whose name starts with it ahead of those that only mention it", () => {
    for (const d of Object.values(cat)) {
      const w = d.name.split(" ")[0].toLowerCase();
      const r = rankNodes(cat, w);
      const first = r.findIndex((x) => !x.name.toLowerCase().includes(w));
      const last = r.map((x) => x.name.toLowerCase().includes(w)).lastIndexOf(true);
      expect(first === -1 || first > last).toBe(true);
    }
  });
});
