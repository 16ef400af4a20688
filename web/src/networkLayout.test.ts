import { describe, expect, it } from "vitest";
import { BOX_H, layoutNetwork, shapeText, type LayerInfo } from "./networkLayout";

const L = (name: string, inputs: string[] = [], kind = "Dense", shape = "(10,)"): LayerInfo => ({ name, kind, inputs, output_shapes: [shape] });

describe("network picture layout", () => {
  it("writes shapes as sizes joined by ×", () => {
    expect(shapeText("(32, 26, 26)")).toBe("32×26×26");
    expect(shapeText([null, 128])).toBe("?×128");
    expect(shapeText("(10,)")).toBe("10");
    expect(shapeText("()")).toBe("scalar");
  });

  it("puts every layer below all of its inputs and draws one link per input", () => {
    // the image classifier of the flagship example, and a two-branch merge
    const chain = ["input", "conv1", "pool1", "conv2", "pool2", "flatten", "dropout", "dense"].map((n, i, a) => L(n, i ? [a[i - 1]] : []));
    const merge = [L("a"), L("b"), L("x", ["a"]), L("cat", ["x", "b"]), L("lstm", ["cat"]), L("out", ["lstm:1", "cat"])];
    for (const layers of [chain, merge]) {
      const lay = layoutNetwork(layers);
      const box = new Map(lay.boxes.map((b) => [b.layer.name, b]));
      for (const l of layers) for (const i of l.inputs) expect(box.get(i.split(":")[0])!.y + BOX_H).toBeLessThan(box.get(l.name)!.y);
      expect(lay.links).toHaveLength(layers.reduce((a, l) => a + l.inputs.length, 0));
      for (const b of lay.boxes) {
        expect(b.x).toBeGreaterThanOrEqual(0);
        expect(b.x + b.w).toBeLessThanOrEqual(lay.width);
        expect(b.y + b.h).toBeLessThanOrEqual(lay.height);
      }
      // no two boxes overlap
      for (const p of lay.boxes) for (const q of lay.boxes) {
        if (p === q) continue;
        const apart = p.x + p.w <= q.x || q.x + q.w <= p.x || p.y + p.h <= q.y || q.y + q.h <= p.y;
        expect(apart).toBe(true);
      }
    }
    expect(layoutNetwork(chain).width).toBeLessThan(layoutNetwork(merge).width);
  });
});
