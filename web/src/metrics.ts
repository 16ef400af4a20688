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
