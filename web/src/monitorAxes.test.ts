import { describe, expect, it } from "vitest";
import { monitorAxes, type Series } from "./metrics";
import type { MetricPoint } from "./types";

/** The points a learner reports for `epochs` epochs of `nb` batches, a batch point every `every` batches
 * (and at each epoch's last batch), as deepnodes/dl/train.py emits them: epochs from 1, steps global. */
function run(epochs: number, nb: number, every: number, withSteps = true): Series {
  const batch: MetricPoint[] = [];
  const epoch: MetricPoint[] = [];
  let step = 0;
  for (let e = 1; e <= epochs; e++) {
    for (let b = 1; b <= nb; b++) {
      step++;
      if (b % every === 0 || b === nb) batch.push({ kind: "batch", step, epoch: e, values: { loss: 1 / step } });
    }
    epoch.push({ kind: "epoch", step: withSteps ? step : null, epoch: e, values: { loss: 1 / e } });
  }
  return { batch, epoch };
}

describe("the monitor's axes and counters", () => {
  it("numbers epochs from 1 and counts batches trained, for many run shapes", () => {
    for (const epochs of [1, 2, 4, 7]) {
      for (const nb of [1, 3, 24, 100]) {
        for (const every of [1, 5, 8]) {
          const s = run(epochs, nb, every);
          const e = monitorAxes(s, "epoch");
          expect(e.ex).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
          expect(e.batches).toBe(epochs * nb);
          expect(e.epochs).toBe(epochs);
          const b = monitorAxes(s, "batch");
          // an epoch's point sits on the batch axis where that epoch ended, within the batch points' range
          expect(b.ex).toEqual(Array.from({ length: epochs }, (_, i) => (i + 1) * nb));
          expect(Math.max(...b.bx)).toBe(epochs * nb);
          // the counter agrees with the axis
          expect(b.counts).toContain(`${(epochs * nb).toLocaleString("en")} batch`);
        }
      }
    }
  });
  it("says 1 epoch and 1 batch, not 1 epochs", () => {
    expect(monitorAxes(run(1, 1, 1), "batch").counts).toBe("1 batch · 1 epoch");
    expect(monitorAxes(run(4, 24, 8), "batch").counts).toBe("96 batches · 4 epochs");
  });
  it("places epochs reported without a step at their last batch", () => {
    expect(monitorAxes(run(3, 10, 4, false), "batch").ex).toEqual([10, 20, 30]);
    // a script learner that reports epochs only
    const only: Series = { batch: [], epoch: [1, 2].map((e) => ({ kind: "epoch", step: null, epoch: e, values: { loss: 1 } })) };
    expect(monitorAxes(only, "epoch").ex).toEqual([1, 2]);
    expect(monitorAxes(only, "epoch").counts).toBe("0 batches · 2 epochs");
  });
});
