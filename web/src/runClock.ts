// How long a learner has run and about how long it has left, from its metric points (each carries the
// server's time) and its progress fraction. Pure.
import type { MetricPoint } from "./types";

export function clockText(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
}

/** elapsed since the first point; left = elapsed × (1 − p) / p once some progress (p ≥ 1 %) is made. */
export function runClock(points: MetricPoint[], progress: number | null | undefined, now: number): { elapsed: number; left: number | null } | null {
  const times = points.map((p) => p.time).filter((t): t is number => typeof t === "number");
  if (!times.length) return null;
  const elapsed = Math.max(0, now - Math.min(...times));
  const left = progress != null && progress >= 0.01 && progress <= 1 ? (elapsed * (1 - progress)) / progress : null;
  return { elapsed, left };
}
