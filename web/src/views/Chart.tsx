// A small SVG line chart: several series, linear or log y axis, decimated to the pixels available.
export interface ChartSeries {
  name: string;
  color: string;
  xs: number[];
  ys: number[];
  dots?: boolean;
  faint?: boolean;
  dashed?: boolean;
}

const W = 560;
const H = 240;
const M = { l: 52, r: 12, t: 10, b: 30 };

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0);
  if (!step || !Number.isFinite(step) || step <= 0) return [lo, hi];
  const out: number[] = [];
  const first = Math.ceil(lo / step);
  for (let i = 0; i < 50; i++) {
    const v = (first + i) * step;
    if (v > hi + step * 1e-9) break;
    out.push(+v.toPrecision(12));
  }
  return out;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(0);
  return +v.toPrecision(3) + "";
}

export function Chart({ title, series, logY, xLabel, testId, integerX }: { title: string; series: ChartSeries[]; logY: boolean; xLabel: string; testId?: string; integerX?: boolean }) {
  const all = series.flatMap((s) => s.xs.map((x, i) => [x, s.ys[i]] as const)).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0));
  const npoints = series.reduce((a, s) => a + s.xs.length, 0);
  if (!all.length) {
    return (
      <figure className="dn-chart" data-testid={testId} data-points={npoints}>
        <figcaption>{title}</figcaption>
        <div className="dn-chart-empty">waiting for data…</div>
      </figure>
    );
  }
  let x0 = Math.min(...all.map((p) => p[0]));
  let x1 = Math.max(...all.map((p) => p[0]));
  if (x1 === x0) x1 = x0 + 1;
  const tf = (y: number) => (logY ? Math.log10(y) : y);
  let y0 = Math.min(...all.map((p) => tf(p[1])));
  let y1 = Math.max(...all.map((p) => tf(p[1])));
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad; y1 += pad;
  if (!logY && y0 < 0 && Math.min(...all.map((p) => p[1])) >= 0) y0 = 0;
  const sx = (x: number) => M.l + ((x - x0) / (x1 - x0)) * (W - M.l - M.r);
  const sy = (y: number) => H - M.b - ((tf(y) - y0) / (y1 - y0)) * (H - M.t - M.b);
  let yt = logY
    ? niceTicks(Math.floor(y0), Math.ceil(y1), Math.max(1, Math.ceil(y1) - Math.floor(y0))).filter((t) => t >= y0 && t <= y1).map((t) => Math.pow(10, t))
    : niceTicks(y0, y1);
  if (logY && yt.length < 2) yt = niceTicks(Math.pow(10, y0), Math.pow(10, y1), 4).filter((t) => t > 0); // less than a decade
  // counted axes (epochs, batches) tick at whole numbers only
  const xt = integerX ? niceTicks(x0, x1, Math.min(6, Math.max(1, Math.round(x1 - x0)))).filter((t) => Number.isInteger(t)) : niceTicks(x0, x1, 6);
  return (
    <figure className="dn-chart" data-testid={testId} data-points={npoints}>
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" preserveAspectRatio="xMidYMid meet">
        <rect x={M.l} y={M.t} width={W - M.l - M.r} height={H - M.t - M.b} fill="#fff" stroke="#ddd" />
        {yt.map((t) => (
          <g key={"y" + t}>
            <line x1={M.l} x2={W - M.r} y1={sy(t)} y2={sy(t)} stroke="#eee" />
            <text x={M.l - 5} y={sy(t) + 4} textAnchor="end" fontSize="11" fill="#555">{fmt(t)}</text>
          </g>
        ))}
        {xt.map((t) => (
          <text key={"x" + t} x={sx(t)} y={H - M.b + 15} textAnchor="middle" fontSize="11" fill="#555">{fmt(t)}</text>
        ))}
        <text x={(W + M.l) / 2} y={H - 3} textAnchor="middle" fontSize="11" fill="#777">{xLabel}</text>
        {series.map((s) => {
          const pts: [number, number][] = [];
          const n = s.xs.length;
          const stride = Math.max(1, Math.floor(n / 1200));
          for (let i = 0; i < n; i += stride) {
            const y = s.ys[i];
            if (Number.isFinite(y) && (!logY || y > 0)) pts.push([sx(s.xs[i]), sy(y)]);
          }
          if (n && stride > 1) {
            const y = s.ys[n - 1];
            if (Number.isFinite(y) && (!logY || y > 0)) pts.push([sx(s.xs[n - 1]), sy(y)]);
          }
          const d = pts.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join("");
          return (
            <g key={s.name} className={`series series-${s.name}`}>
              <path d={d} fill="none" stroke={s.color} strokeWidth={s.faint ? 1 : 1.8} opacity={s.faint ? 0.3 : 1} strokeDasharray={s.dashed ? "5 3" : undefined} />
              {s.dots && pts.map(([x, y], i) => <circle key={i} cx={x} cy={y} r={3} fill={s.color} />)}
            </g>
          );
        })}
      </svg>
      <div className="dn-legend">
        {series.filter((s) => !s.faint).map((s) => (
          <span key={s.name}><i style={{ background: s.color }} />{s.name}</span>
        ))}
      </div>
    </figure>
  );
}
