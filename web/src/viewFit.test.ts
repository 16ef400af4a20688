import { describe, expect, it } from "vitest";
import { wholeGraphVisible } from "./viewFit";

describe("wholeGraphVisible", () => {
  const bounds = { x: 0, y: 0, width: 1000, height: 400 };
  it("is true for a fitted view and false once the pane shrinks below it", () => {
    const vp = { x: 50, y: 50, zoom: 0.9 }; // 900 x 360 on screen, from (50, 50)
    expect(wholeGraphVisible(bounds, vp, { w: 1000, h: 500 })).toBe(true);
    expect(wholeGraphVisible(bounds, vp, { w: 700, h: 500 })).toBe(false);
    expect(wholeGraphVisible(bounds, vp, { w: 1000, h: 300 })).toBe(false);
  });
  it("is false for a view zoomed into one part or panned off to a side", () => {
    expect(wholeGraphVisible(bounds, { x: -400, y: 0, zoom: 2 }, { w: 1000, h: 900 })).toBe(false);
    expect(wholeGraphVisible(bounds, { x: -100, y: 0, zoom: 0.5 }, { w: 1000, h: 900 })).toBe(false);
  });
  it("holds for every zoom at which the graph fits", () => {
    for (let zoom = 0.1; zoom <= 2.5; zoom += 0.1) {
      const size = { w: 1000 * zoom + 20, h: 400 * zoom + 20 };
      expect(wholeGraphVisible(bounds, { x: 10, y: 10, zoom }, size)).toBe(true);
      expect(wholeGraphVisible(bounds, { x: 10, y: 10, zoom }, { w: size.w - 60, h: size.h })).toBe(false);
    }
  });
  it("counts an empty workflow as visible", () => {
    expect(wholeGraphVisible({ x: 0, y: 0, width: 0, height: 0 }, { x: 0, y: 0, zoom: 1 }, { w: 10, h: 10 })).toBe(true);
  });
});
