// A layered layout of a network's layer graph (top to bottom, like Netron): each layer one rank below its
// deepest input, ordered within its rank by where its inputs sit. Pure; drawn by NetworkGraph.tsx.

export interface LayerInfo {
  name: string;
  kind: string;
  inputs: string[]; // "conv1" or "lstm_1:1" (a layer's second output)
  output_shapes: string[];
  params?: number | null;
  trainable?: boolean;
}

export interface Box { layer: LayerInfo; rank: number; x: number; y: number; w: number; h: number }
export interface Link { from: string; to: string; points: [number, number][] }
export interface Layout { boxes: Box[]; links: Link[]; width: number; height: number }

export const BOX_W = 168;
export const BOX_H = 50;
const GAP_X = 26;
const GAP_Y = 34;
const PAD = 12;

/** (32, 26, 26) or [32, 26, 26] -> "32×26×26"; unknown sizes are "?". */
export function shapeText(shape: string | (number | null)[] | undefined | null): string {
  if (shape === undefined || shape === null) return "";
  const dims = Array.isArray(shape) ? shape : shape.replace(/[()\s]/g, "").split(",").filter((x) => x !== "").map((x) => (x === "?" ? null : Number(x)));
  return dims.length ? dims.map((d) => (d === null || Number.isNaN(d) ? "?" : String(d))).join("×") : "scalar";
}

const source = (ref: string) => ref.split(":")[0];

export function layoutNetwork(layers: LayerInfo[]): Layout {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const rank = new Map<string, number>();
  const visiting = new Set<string>();
  const rankOf = (n: string): number => {
    const known = rank.get(n);
    if (known !== undefined) return known;
    if (visiting.has(n)) return 0; // a cycle cannot come from a spec; stay finite anyway
    visiting.add(n);
    const ins = (byName.get(n)?.inputs ?? []).map(source).filter((p) => byName.has(p));
    const r = ins.length ? 1 + Math.max(...ins.map(rankOf)) : 0;
    visiting.delete(n);
    rank.set(n, r);
    return r;
  };
  layers.forEach((l) => rankOf(l.name));
  const rows: LayerInfo[][] = [];
  for (const l of layers) (rows[rank.get(l.name)!] ??= []).push(l);
  const slot = new Map<string, number>();
  for (const row of rows) {
    if (!row) continue;
    const bary = (l: LayerInfo) => {
      const xs = l.inputs.map(source).filter((p) => slot.has(p)).map((p) => slot.get(p)!);
      return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.POSITIVE_INFINITY;
    };
    const order = row.map((l, i) => ({ l, i, b: bary(l) })).sort((a, b) => (a.b === b.b ? a.i - b.i : a.b < b.b ? -1 : 1));
    order.forEach(({ l }, i) => slot.set(l.name, i - (order.length - 1) / 2));
  }
  const widest = Math.max(1, ...rows.map((r) => r?.length ?? 0));
  const width = PAD * 2 + widest * BOX_W + (widest - 1) * GAP_X;
  const boxes: Box[] = layers.map((l) => {
    const r = rank.get(l.name)!;
    return { layer: l, rank: r, x: width / 2 + slot.get(l.name)! * (BOX_W + GAP_X) - BOX_W / 2, y: PAD + r * (BOX_H + GAP_Y), w: BOX_W, h: BOX_H };
  });
  const at = new Map(boxes.map((b) => [b.layer.name, b]));
  const links: Link[] = [];
  for (const b of boxes) {
    for (const ref of b.layer.inputs) {
      const p = at.get(source(ref));
      if (!p) continue;
      links.push({ from: p.layer.name, to: b.layer.name, points: [[p.x + p.w / 2, p.y + p.h], [b.x + b.w / 2, b.y]] });
    }
  }
  const height = PAD * 2 + rows.length * BOX_H + Math.max(0, rows.length - 1) * GAP_Y;
  return { boxes, links, width, height };
}
