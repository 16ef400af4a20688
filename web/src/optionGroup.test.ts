import { describe, expect, it } from "vitest";
import { collect, fieldsOf, initValues, visible } from "./schemaForm";

// a nested option group, shaped as pydantic writes the Network Learner's `distributed` (a $ref to a model)
const schema = {
  $defs: {
    DistributedOptions: {
      type: "object",
      properties: {
        backend: { enum: ["none", "ray"], type: "string", default: "none" },
        workers: { type: "integer", minimum: 1, default: 2, "x-show-if": { backend: ["ray"] } },
        use_gpu: { type: "boolean", default: false, "x-show-if": { backend: ["ray"] } },
        address: { type: "string", default: "", "x-show-if": { backend: ["ray"] } },
      },
    },
  },
  properties: {
    epochs: { type: "integer", default: 10 },
    distributed: { $ref: "#/$defs/DistributedOptions", description: "where to train", "x-group": "Distributed" },
  },
};

describe("a nested option group is a sub-form, not raw JSON", () => {
  const fields = fieldsOf(schema);
  const d = fields.find((f) => f.name === "distributed")!;

  it("has its own fields, on the group's tab", () => {
    expect(d.kind).toBe("object");
    expect(d.group).toBe("Distributed");
    expect(d.fields!.map((f) => [f.name, f.kind])).toEqual([["backend", "enum"], ["workers", "integer"],
      ["use_gpu", "bool"], ["address", "string"]]);
  });

  it("shows conditional fields from its own values and round-trips a config", () => {
    const v = initValues(fields, { distributed: { backend: "ray", workers: 4 } });
    expect(v.distributed.workers).toBe("4");
    const workers = d.fields!.find((f) => f.name === "workers")!;
    expect(visible(workers, v.distributed)).toBe(true);
    expect(visible(workers, { ...v.distributed, backend: "none" })).toBe(false);
    const out = collect(fields, v);
    expect(out.errors).toEqual({});
    expect(out.config.distributed).toEqual({ backend: "ray", workers: 4, use_gpu: false, address: "" });
  });

  it("names a bad nested value by its dotted path", () => {
    const v = initValues(fields, {});
    v.distributed.workers = "two";
    expect(collect(fields, v).errors).toEqual({ "distributed.workers": "'two' is not a number" });
  });
});
