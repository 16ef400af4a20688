import { describe, expect, it } from "vitest";
import { collect, fieldsOf, groupsOf, initValues, optionsFor, visible } from "./schemaForm";

// shaped as pydantic + deepnodes/core/ui.py write it for the Network Learner (abridged)
const learner = {
  $defs: {
    InputColumns: {
      properties: {
        columns: { items: { type: "string" }, type: "array", default: [] },
        converter: { enum: ["auto", "tensor", "tokens"], type: "string", default: "auto" },
        pad_value: { type: "integer", default: 0, "x-show-if": { converter: ["tokens"] } },
        network_input: { type: "string", default: "", "x-enum-source": "network_inputs" },
        unused: { type: "string", default: "", "x-hidden": true },
      },
      type: "object",
    },
  },
  properties: {
    inputs: { items: { $ref: "#/$defs/InputColumns" }, type: "array", "x-group": "General" },
    epochs: { type: "integer", minimum: 1, default: 10, "x-group": "General" },
    device: { enum: ["auto", "cpu"], type: "string", default: "auto", "x-group": "Advanced" },
    optimizer: { enum: ["sgd", "adam"], type: "string", default: "adam", "x-group": "Optimizer" },
    momentum: { type: "number", default: 0, "x-group": "Optimizer", "x-show-if": { optimizer: ["sgd"] } },
    monitor: { type: "string", default: "val_loss", "x-enum": ["val_loss", "loss"], "x-group": "Early stopping",
      "x-show-if": [{ early_stopping: [true] }, { keep_best: [true] }] },
    early_stopping: { type: "boolean", default: false, "x-group": "Early stopping" },
    keep_best: { type: "boolean", default: false, "x-group": "Early stopping" },
    clipnorm: { anyOf: [{ type: "number", exclusiveMinimum: 0 }, { type: "null" }], default: null, "x-group": "Optimizer" },
    dataset: { type: "string", default: "digits", "x-enum": ["digits", "mnist"] },
    split: { type: "string", default: "all", "x-enum-map": { digits: ["all"], mnist: ["train", "test", "all"] }, "x-enum-depends": "dataset" },
  },
};

describe("dialog model from annotated schemas", () => {
  const fields = fieldsOf(learner);
  const f = Object.fromEntries(fields.map((x) => [x.name, x]));

  it("puts fields on their tabs, Advanced last", () => {
    expect(groupsOf(fields)).toEqual(["General", "Optimizer", "Early stopping", "Advanced"]);
    expect(f.dataset.group).toBe("General");
  });

  it("turns a list of objects into a sub-form with pickers", () => {
    expect(f.inputs.kind).toBe("objects");
    const sub = Object.fromEntries(f.inputs.fields!.map((x) => [x.name, x]));
    expect(sub.columns.kind).toBe("columns");
    expect(sub.unused).toBeUndefined(); // x-hidden: not in the dialog
    expect(sub.converter.kind).toBe("enum");
    expect(sub.network_input.kind).toBe("enum");
    expect(optionsFor(sub.network_input, {}, { columns: null, network: { inputs: [{ name: "image" }], outputs: [] } })).toEqual(["", "image"]);
    expect(optionsFor(sub.network_input, {}, { columns: null, network: null })).toBeNull();
    expect(visible(sub.pad_value, { converter: "auto" })).toBe(false);
    expect(visible(sub.pad_value, { converter: "tokens" })).toBe(true);
  });

  it("shows optimizer-specific fields only for their optimizer; any condition set may match", () => {
    expect(visible(f.momentum, { optimizer: "adam" })).toBe(false);
    expect(visible(f.momentum, { optimizer: "sgd" })).toBe(true);
    expect(visible(f.monitor, { early_stopping: false, keep_best: false })).toBe(false);
    expect(visible(f.monitor, { early_stopping: false, keep_best: true })).toBe(true);
  });

  it("fills drop-downs from the registry, dependent ones from the field they depend on", () => {
    expect(f.dataset.kind).toBe("enum");
    expect(optionsFor(f.dataset, {}, { columns: null })).toEqual(["digits", "mnist"]);
    expect(optionsFor(f.split, { dataset: "mnist" }, { columns: null })).toEqual(["train", "test", "all"]);
    expect(optionsFor(f.split, { dataset: "digits" }, { columns: null })).toEqual(["all"]);
  });

  it("round-trips a config; an empty text means the default, an empty list stays a list", () => {
    const cfg = { inputs: [{ columns: ["image"], converter: "tensor", pad_value: 0, network_input: "image" }], epochs: 3 };
    const v = initValues(fields, cfg);
    expect(v.inputs[0].pad_value).toBe("0");
    const r = collect(fields, v);
    expect(r.errors).toEqual({});
    expect(r.config.inputs).toEqual(cfg.inputs);
    expect(r.config.epochs).toBe(3);
    expect(r.config.clipnorm).toBeNull();
    const empty = collect(fields, { ...initValues(fields, {}), epochs: "  " });
    expect(empty.config.epochs).toBe(10);
    expect(empty.config.inputs).toEqual([]);
  });

  it("keys errors by the dotted path of the entry", () => {
    const v = initValues(fields, { inputs: [{}, { pad_value: 1 }] });
    v.inputs[1].pad_value = "1.5";
    v.epochs = "many";
    expect(collect(fields, v).errors).toEqual({ "inputs.1.pad_value": "'1.5' is not a whole number", epochs: "'many' is not a number" });
  });
});
