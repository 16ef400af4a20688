// The learning monitor: live loss and accuracy per batch and per epoch, training against validation,
// smoothing, log scale and a Stop button that keeps the model trained so far.
import { useEffect, useReducer, useState } from "react";
import { api } from "../api";
import { MetricsStore, monitorAxes, smooth } from "../metrics";
import type { NodeStatus } from "../types";
import { RunClock } from "../RunClock";
import { Chart, ChartSeries } from "./Chart";

const COLORS = { train: "#2b6cb0", val: "#dd6b20", other: ["#2f855a", "#805ad5", "#b7791f", "#319795"] };

export function Monitor({ docId, node, store, status, onStop }: { docId: string; node: string; store: MetricsStore; status: NodeStatus | undefined; onStop: () => void }) {
  const [, rerender] = useReducer((x: number) => x + 1, 0);
  const [smoothing, setSmoothing] = useState(0.6);
  const [logY, setLogY] = useState(false);
  const [axis, setAxis] = useState<"batch" | "epoch">("batch");
  const [stopSent, setStopSent] = useState(false);
  const [error, setError] = useState("");
  useEffect(() => store.subscribe(rerender), [store]);
  useEffect(() => {
    api("GET", `/api/docs/${docId}/nodes/${encodeURIComponent(node)}/metrics`)
      .then((m) => store.set(node, { batch: m.batch, epoch: m.epoch }))
      .catch((e) => setError(e.message));
  }, [docId, node, store]);
  const state = status?.state ?? "idle";
  useEffect(() => { if (state !== "executing") setStopSent(false); }, [state]);
  const s = store.get(node);
  const keys = new Set<string>();
  for (const p of s.batch.slice(-50)) Object.keys(p.values).forEach((k) => keys.add(k));
  for (const p of s.epoch) Object.keys(p.values).forEach((k) => keys.add(k));
  const base = (k: string) => k.replace(/^val_/, "");
  const groups = new Map<string, string[]>();
  for (const k of keys) {
    const g = base(k);
    if (!/loss|acc|error|mae|mse|rmse|auc|f1|precision|recall|perplexity|bleu/i.test(g)) continue;
    groups.set(g, [...(groups.get(g) ?? []), k]);
  }
  const order = [...groups.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const lastEpoch = s.epoch[s.epoch.length - 1];
  const { bx, ex, counts } = monitorAxes(s, axis);
  const charts = order.slice(0, 4).map((g) => {
    const series: ChartSeries[] = [];
    if (axis === "batch" && s.batch.some((p) => g in p.values)) {
      const ys = s.batch.map((p) => (g in p.values ? p.values[g] : NaN));
      series.push({ name: `${g} (batch, raw)`, color: COLORS.train, xs: bx, ys, faint: true });
      series.push({ name: `${g} (batch${smoothing > 0 ? ", smoothed" : ""})`, color: COLORS.train, xs: bx, ys: smooth(ys, smoothing) });
    }
    const te = s.epoch.filter((p) => g in p.values);
    if (te.length) series.push({ name: `${g} (epoch, training)`, color: axis === "batch" ? "#1a365d" : COLORS.train, xs: s.epoch.map((_, i) => ex[i]).filter((_, i) => g in s.epoch[i].values), ys: te.map((p) => p.values[g]), dots: true, dashed: axis === "batch" });
    const ve = s.epoch.filter((p) => `val_${g}` in p.values);
    if (ve.length) series.push({ name: `val_${g} (epoch, validation)`, color: COLORS.val, xs: s.epoch.map((_, i) => ex[i]).filter((_, i) => `val_${g}` in s.epoch[i].values), ys: ve.map((p) => p.values[`val_${g}`]), dots: true });
    return { g, series };
  });
  return (
    <div className="dn-monitor" data-batch-points={s.batch.length} data-epoch-points={s.epoch.length}>
      <div className="dn-monitor-bar">
        <span className={`dn-state-badge state-${state}`}>{state}</span>
        {status?.state === "executing" && status.progress != null && <span>{Math.round(status.progress * 100)}% {status.progressMessage ?? ""}</span>}
        <span className="muted" data-testid="monitor-counts">{counts}</span>
        <RunClock points={[...s.batch, ...s.epoch]} status={status} />
        {lastEpoch && <span className="dn-last">{Object.entries(lastEpoch.values).filter(([k]) => /loss|acc/.test(k)).map(([k, v]) => `${k} ${(+v).toFixed(4)}`).join(" · ")}</span>}
        <label>smoothing <input type="range" min={0} max={0.99} step={0.01} value={smoothing} onChange={(e) => setSmoothing(+e.target.value)} /> {smoothing.toFixed(2)}</label>
        <label><input type="checkbox" checked={logY} onChange={(e) => setLogY(e.target.checked)} /> log scale</label>
        <select value={axis} onChange={(e) => setAxis(e.target.value as any)} aria-label="x axis">
          <option value="batch">per batch</option>
          <option value="epoch">per epoch</option>
        </select>
        <button className="danger" data-testid="stop-learner" disabled={state !== "executing" || stopSent}
          onClick={() => { setStopSent(true); onStop(); }}>■ Stop{stopSent ? " requested" : ""}</button>
      </div>
      {error && <div className="dn-error">{error}</div>}
      {status?.message && <div className="dn-monitor-msg">{status.message}</div>}
      <div className="dn-charts">
        {charts.length === 0 && <div className="dn-chart-empty">No metrics yet: execute the learner to see its loss and accuracy here.</div>}
        {charts.map(({ g, series }) => (
          <Chart key={g} title={g} series={series} logY={logY && g.includes("loss")} xLabel={axis === "batch" ? "batch" : "epoch"} integerX testId={`chart-${g}`} />
        ))}
      </div>
    </div>
  );
}

function rank(g: string): number {
  if (g === "loss") return 0;
  if (g.startsWith("acc")) return 1;
  if (g.includes("loss")) return 2;
  if (g.includes("lr") || g.includes("learning")) return 4;
  return 3;
}
