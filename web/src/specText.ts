// What a port carries, in words, from its configure-time spec (the server's TableSpec / NetworkSpec JSON):
// a layer node's output shape on the canvas and a port's hover text. Pure.
import { type Catalogue, portsOf } from "./graph";
import { shapeText } from "./networkLayout";
import type { DocSnapshot } from "./types";

/** Separates the per-port texts in one string (NodeData stays comparable with ===). */
export const TIP_SEP = "\u001e";

/** The output shape of a network spec's (last) output, "32×26×26"; "" when not a network or not known. */
export function outputShape(spec: any): string {
  const outs = spec && Array.isArray(spec.outputs) ? spec.outputs : null;
  if (!outs || !outs.length || !Array.isArray(outs[outs.length - 1].shape)) return "";
  return outs.length === 1 ? shapeText(outs[0].shape) : outs.map((t: any) => shapeText(t.shape)).join(" | ");
}

/** One line per port: "network: image 1×28×28 → dense 10" or "table: 5 columns: image (tensor 1×28×28), …". */
export function specSummary(spec: any): string {
  if (!spec) return "not known until the node is configured";
  if (Array.isArray(spec.columns)) {
    const cols = spec.columns.map((c: any) => `${c.name} (${c.kind}${Array.isArray(c.shape) ? " " + shapeText(c.shape) : ""})`);
    const head = cols.slice(0, 8).join(", ") + (cols.length > 8 ? `, … ${cols.length - 8} more` : "");
    return `${cols.length} column${cols.length === 1 ? "" : "s"}: ${head}`;
  }
  if (Array.isArray(spec.inputs) && Array.isArray(spec.outputs)) {
    const t = (xs: any[]) => xs.map((x) => `${x.name} ${shapeText(x.shape)}${x.dtype && x.dtype !== "float32" ? " " + x.dtype : ""}`).join(", ") || "—";
    const layers = Array.isArray(spec.layers) && spec.layers.length ? ` (${spec.layers.length} layers)` : "";
    return `inputs ${t(spec.inputs)} → outputs ${t(spec.outputs)}${layers}`;
  }
  if (spec.kind || spec.port_type) return String(spec.description ?? spec.kind ?? spec.port_type);
  return "";
}

interface DocIndex { nodes: Map<string, DocSnapshot["workflow"]["nodes"][number]>; feeds: Map<string, DocSnapshot["workflow"]["connections"][number]> }
const indexes = new WeakMap<DocSnapshot, DocIndex>();

/** Nodes by id and connections by "target/port", built once per document snapshot (the canvas asks per node). */
function indexOf(doc: DocSnapshot): DocIndex {
  let ix = indexes.get(doc);
  if (!ix) {
    ix = { nodes: new Map(doc.workflow.nodes.map((n) => [n.id, n])), feeds: new Map(doc.workflow.connections.map((c) => [`${c.target}/${c.target_port}`, c])) };
    indexes.set(doc, ix);
  }
  return ix;
}

/** A node's output shape (layer nodes) and the hover text of each port (outputs from its own specs, inputs from
 * the specs of what feeds them), as strings so the canvas's NodeData stays comparable with ===. */
export function portTexts(doc: DocSnapshot, catalogue: Catalogue, id: string): { shape: string; inTips: string; outTips: string } {
  const ix = indexOf(doc);
  const n = ix.nodes.get(id);
  const type = n && catalogue[n.type];
  const ports = type && portsOf(catalogue, n);
  if (!type || !ports) return { shape: "", inTips: "", outTips: "" };
  const desc = { ...ports, category: type.category };
  const specs = doc.status[id]?.specs ?? [];
  const outTips = desc.outputs.map((_, i) => specSummary(specs[i])).join(TIP_SEP);
  const inTips = desc.inputs.map((p) => {
    const c = ix.feeds.get(`${id}/${p.name}`);
    if (!c) return "not connected";
    const src = ix.nodes.get(c.source);
    const idx = src ? portsOf(catalogue, src)?.outputs.findIndex((o) => o.name === c.source_port) ?? -1 : -1;
    return specSummary(idx >= 0 ? doc.status[c.source]?.specs?.[idx] : null);
  }).join(TIP_SEP);
  const net = desc.outputs.findIndex((o) => o.type === "network");
  const shape = /layers/i.test(desc.category) && net >= 0 ? outputShape(specs[net]) : "";
  return { shape, inTips, outTips };
}
