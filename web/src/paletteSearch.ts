// The node repository's search: every word must occur somewhere (name, type, category, description); the
// results are ranked by where they occur, name matches first ("input" -> Input Layer before the nodes that
// only mention inputs in their description).
import type { Catalogue, NodeDesc } from "./graph";

function wordScore(w: string, d: NodeDesc): number {
  const name = d.name.toLowerCase();
  if (name === w) return 100;
  const words = name.split(/[^a-z0-9]+/).filter(Boolean);
  if (words[0] === w) return 90;
  if (name.startsWith(w)) return 80;
  if (words.includes(w)) return 70;
  if (words.some((x) => x.startsWith(w))) return 60;
  if (name.includes(w)) return 50;
  const type = d.type.toLowerCase().split(".").pop() ?? "";
  if (type.includes(w)) return 40;
  if (d.category.toLowerCase().includes(w)) return 20;
  if (d.description.toLowerCase().includes(w)) return 5;
  if (d.type.toLowerCase().includes(w)) return 3;
  return 0;
}

/** The nodes matching `q`, best first; ties keep the shorter, then alphabetical name. Empty query: none. */
export function rankNodes(catalogue: Catalogue, q: string): NodeDesc[] {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return [];
  const scored: [number, NodeDesc][] = [];
  for (const d of Object.values(catalogue)) {
    let total = 0;
    let ok = true;
    for (const w of words) {
      const s = wordScore(w, d);
      if (!s) { ok = false; break; }
      total += s;
    }
    if (ok) scored.push([total, d]);
  }
  return scored
    .sort(([a, x], [b, y]) => b - a || x.name.length - y.name.length || x.name.localeCompare(y.name))
    .map(([, d]) => d);
}
