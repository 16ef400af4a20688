// "elapsed 1:23 · about 4:10 left" for a running learner (runClock.ts); ticks once a second while it runs.
import { useEffect, useState } from "react";
import { clockText, runClock } from "./runClock";
import type { MetricPoint, NodeStatus } from "./types";

export function RunClock({ points, status }: { points: MetricPoint[]; status: NodeStatus | undefined }) {
  const running = status?.state === "executing";
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    if (!running) return;
    const t = window.setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => window.clearInterval(t);
  }, [running]);
  if (!running) return status?.seconds != null ? <span className="dn-clock muted" data-testid="run-clock">took {clockText(status.seconds)}</span> : null;
  const c = runClock(points, status?.progress, now);
  if (!c) return null;
  return (
    <span className="dn-clock" data-testid="run-clock">
      elapsed {clockText(c.elapsed)}{c.left != null ? ` · about ${clockText(c.left)} left` : ""}
    </span>
  );
}
