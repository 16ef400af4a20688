import { describe, expect, it } from "vitest";
import { colour } from "./attentionColour";

// the same colours as the PNG the CLI writes (deepnodes/dl/attention_png.py: colours)
describe("attention colours", () => {
  it("runs along viridis from 0 to 1 and clamps outside", () => {
    expect(colour(0)).toBe("rgb(68, 1, 84)");
    expect(colour(1)).toBe("rgb(253, 231, 37)");
    expect(colour(0.5)).toBe("rgb(33, 145, 140)");
    expect(colour(-1)).toBe(colour(0));
    expect(colour(2)).toBe(colour(1));
    expect(colour(NaN)).toBe(colour(0));
    expect(colour(0.125)).toBe("rgb(64, 42, 112)");
  });
});
