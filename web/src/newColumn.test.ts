import { describe, expect, it } from "vitest";
import { fieldsOf } from "./schemaForm";

// column options as the nodes declare them (descriptions copied from deepnodes/nodes)
const schema = {
  properties: {
    column: { default: "image", type: "string", description: "the image column (encoded images or a uint8 tensor)" },
    output_column: { default: "", type: "string", description: "name of the tensor column; empty = replace the image column" },
    truth_column: { default: "label", type: "string", description: "the column with the true classes" },
    prediction_column: { default: "prediction", type: "string", description: "name of the predicted class column" },
    probability_column: { default: "probability", type: "string", description: "name of the class probability column" },
    text_column: { default: "text", type: "string", description: "the column holding the text" },
    new_col: { default: "x", type: "string", description: "a column" },
    target_column: { default: "", type: "string", description: "the column to predict", "x-widget": "new_column" },
  },
};

describe("a column the node creates takes any new name", () => {
  const f = Object.fromEntries(fieldsOf(schema).map((x) => [x.name, x]));
  it("marks the options that name a column the node writes", () => {
    for (const n of ["output_column", "prediction_column", "probability_column", "new_col", "target_column"]) {
      expect(f[n].kind, n).toBe("column");
      expect(f[n].creates, n).toBe(true);
    }
  });
  it("keeps a picker of the input's columns for the options that read one", () => {
    for (const n of ["column", "truth_column", "text_column"]) {
      expect(f[n].kind, n).toBe("column");
      expect(f[n].creates ?? false, n).toBe(false);
    }
  });
});
