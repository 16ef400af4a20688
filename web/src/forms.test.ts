import { describe, expect, it } from "vitest";
import { fieldsOf } from "./ConfigDialog";
import { MetricsStore, smooth } from "./metrics";

// a schema as pydantic writes it for a node config
const schema = {
  $defs: { Loss: { enum: ["mse", "mae"], type: "string" } },
  properties: {
    units: { default: 64, minimum: 1, type: "integer", description: "number of units" },
    rate: { default: 0.5, exclusiveMinimum: 0, maximum: 1, type: "number" },
    activation: { default: "relu", enum: ["relu", "softmax"], type: "string" },
    loss: { $ref: "#/$defs/Loss", default: "mse" },
    limit: { anyOf: [{ minimum: 1, type: "integer" }, { type: "null" }], default: null },
    use_bias: { default: true, type: "boolean" },
    target_column: { default: "label", type: "string" },
    columns: { items: { type: "string" }, type: "array", default: [] },
    shape: { items: { anyOf: [{ type: "integer" }, { type: "null" }] }, type: "array" },
    script: { default: "x = 1", format: "python", type: "string" },
    metrics: { items: { enum: ["accuracy", "auc"], type: "string" }, type: "array", default: [] },
    kernel_size: { anyOf: [{ type: "integer" }, { items: { type: "integer" }, type: "array" }], default: 3 },
  },
};

describe("config dialog fields from a JSON schema", () => {
  it("picks a widget for every kind of option", () => {
    const f = Object.fromEntries(fieldsOf(schema).map((x) => [x.name, x]));
    expect(f.units.kind).toBe("integer");
    expect(f.units.min).toBe(1);
    expect(f.units.description).toBe("number of units");
    expect(f.rate.kind).toBe("number");
    expect(f.activation.kind).toBe("enum");
    expect(f.activation.options).toEqual(["relu", "softmax"]);
    expect(f.loss.kind).toBe("enum");
    expect(f.loss.options).toEqual(["mse", "mae"]);
    expect(f.limit.kind).toBe("integer");
    expect(f.limit.nullable).toBe(true);
    expect(f.use_bias.kind).toBe("bool");
    expect(f.target_column.kind).toBe("column");
    expect(f.columns.kind).toBe("columns");
    expect(f.shape.kind).toBe("list");
    expect(f.shape.itemType).toBe("integer");
    expect(f.script.kind).toBe("code");
    expect(f.metrics.kind).toBe("multienum");
    expect(f.kernel_size.kind).toBe("json");
  });
});

describe("learning monitor data", () => {
  it("merges the server's history with live points without duplicates", () => {
    const s = new MetricsStore();
    s.add("l", [{ kind: "batch", step: 3, epoch: 0, values: { loss: 3 } }, { kind: "batch", step: 4, epoch: 0, values: { loss: 2 } }]);
    s.set("l", {
      batch: [1, 2, 3].map((i) => ({ step: i, epoch: 0, values: { loss: 5 - i } })),
      epoch: [],
    });
    expect(s.get("l").batch.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    s.add("l", [{ kind: "epoch", step: 4, epoch: 0, values: { loss: 2.5, val_loss: 2.7 } }]);
    expect(s.get("l").epoch).toHaveLength(1);
    expect(s.has("l")).toBe(true);
    s.clear("l");
    expect(s.has("l")).toBe(false);
  });

  it("smooths with a debiased moving average", () => {
    expect(smooth([1, 2, 3], 0)).toEqual([1, 2, 3]);
    const ys = smooth([1, 1, 1, 1], 0.9);
    ys.forEach((y) => expect(y).toBeCloseTo(1, 10)); // no pull towards zero at the start
    const z = smooth([0, 10], 0.5);
    expect(z[1]).toBeCloseTo((0.5 * 0 * 0.5 + 0.5 * 10) / 0.75, 10);
  });
});
