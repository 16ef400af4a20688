// The attention heat map's colour of a weight in [0, 1].
// a few stops of viridis, as in the PNG the CLI writes (deepnodes/dl/attention_png.py)
const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

export function colour(w: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(w) ? w : 0)) * (STOPS.length - 1);
  const i = Math.min(Math.floor(x), STOPS.length - 2);
  const f = x - i;
  const c = STOPS[i].map((a, k) => Math.round(a * (1 - f) + STOPS[i + 1][k] * f));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

