// Per-node training metrics as the learning monitor draws them. The server keeps the whole history (a late
// tab fetches it); live points arrive over the WebSocket and are merged without duplicates.
import type { MetricPoint } from "./types";

export interface Series {
  batch: MetricPoint[];
  epoch: MetricPoint[];
}

export class MetricsStore {
  private data = new Map<string, Series>();
  private listeners = new Set<() => void>();
  private scheduled = false;
  version = 0;

  get(node: string): Series {
    return this.data.get(node) ?? { batch: [], epoch: [] };
  }
  /** Replace a node's history with the server's copy (then live points continue it). */
  set(node: string, s: Series): void {
    const cur = this.data.get(node);
    // points that arrived while the history was being fetched are kept when newer
    const lastStep = s.batch.length ? s.batch[s.batch.length - 1].step ?? -1 : -1;
    const lastEpoch = s.epoch.length ? s.epoch[s.epoch.length - 1].epoch ?? -1 : -1;
    const batch = [...s.batch, ...(cur?.batch ?? []).filter((p) => (p.step ?? -1) > lastStep)];
    const epoch = [...s.epoch, ...(cur?.epoch ?? []).filter((p) => (p.epoch ?? -1) > lastEpoch)];
    this.data.set(node, { batch, epoch });
    this.changed();
  }
  add(node: string, points: MetricPoint[]): void {
    let s = this.data.get(node);
    if (!s) {
      s = { batch: [], epoch: [] };
      this.data.set(node, s);
    }
    for (const p of points) (p.kind === "epoch" ? s.epoch : s.batch).push(p);
    this.changed();
  }
  clear(node: string): void {
    this.data.set(node, { batch: [], epoch: [] });
    this.changed();
  }
  has(node: string): boolean {
    const s = this.data.get(node);
    return !!s && (s.batch.length > 0 || s.epoch.length > 0);
  }
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  private changed(): void {
    this.version++;
    if (this.scheduled) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.listeners.forEach((f) => f());
    };
    if (typeof requestAnimationFrame === "function") requestAnimationFrame(run);
    else setTimeout(run, 16);
  }
}

/** Exponential moving average with TensorBoard's debiasing; weight 0 = raw. */
export function smooth(ys: number[], weight: number): number[] {
  if (weight <= 0) return ys;
  let last = 0;
  let n = 0;
  return ys.map((y) => {
    if (!Number.isFinite(y)) return y;
    last = last * weight + (1 - weight) * y;
    n++;
    return last / (1 - Math.pow(weight, n));
  });
}

/** What the monitor's x axes and counters show for a node's history. Epochs are numbered from 1 (as every
 * learner reports them); on the batch axis an epoch's point sits at the training step it ended on. */
export function monitorAxes(s: Series, axis: "batch" | "epoch") {
  const bx = s.batch.map((p, i) => p.step ?? i + 1);
  // the step each finished epoch ended on: its own, else the last batch point reported in that epoch
  const endStep = (p: MetricPoint, i: number) => {
    if (p.step != null) return p.step;
    const inEpoch = s.batch.filter((b) => b.epoch === (p.epoch ?? i + 1));
    return inEpoch.length ? inEpoch[inEpoch.length - 1].step ?? i + 1 : i + 1;
  };
  const ex = s.epoch.map((p, i) => (axis === "epoch" ? p.epoch ?? i + 1 : endStep(p, i)));
  const steps = [...s.batch, ...s.epoch].map((p) => p.step).filter((x): x is number => x != null);
  const batches = steps.length ? Math.max(...steps) : s.batch.length;
  const epochs = s.epoch.length;
  return { bx, ex, batches, epochs, counts: `${plural(batches, "batch", "batches")} · ${plural(epochs, "epoch", "epochs")}` };
}

function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
}
