import { describe, expect, it } from "vitest";
import { clockText, runClock } from "./runClock";

describe("run clock", () => {
  it("writes m:ss and h:mm:ss", () => {
    expect(clockText(0)).toBe("0:00");
    expect(clockText(83.4)).toBe("1:23");
    expect(clockText(3725)).toBe("1:02:05");
  });
  it("estimates the time left from the progress made", () => {
    const pts = [{ step: 1, epoch: 1, values: {}, time: 1000 }, { step: 2, epoch: 1, values: {}, time: 1010 }];
    expect(runClock(pts, 0.25, 1060)).toEqual({ elapsed: 60, left: 180 });
    expect(runClock(pts, null, 1060)).toEqual({ elapsed: 60, left: null });
    expect(runClock(pts, 0.001, 1060)!.left).toBeNull();
    expect(runClock([{ step: 1, epoch: 1, values: {} }], 0.5, 1060)).toBeNull();
  });
});
