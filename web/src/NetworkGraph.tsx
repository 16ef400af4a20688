// The network picture: the layer graph as boxes and arrows with each layer's output shape (SVG, laid out by
// networkLayout.ts). Shown beside the layer table in the Network View.
import { memo, useMemo } from "react";
import { layoutNetwork, shapeText, type LayerInfo } from "./networkLayout";
import { layerFamily } from "./layerFamily";

/** `text` cut to `n` characters with an ellipsis (the box has room for about 24 at 11 px). */
const fit = (text: string, n: number) => (n <= 1 ? "" : text.length > n ? text.slice(0, n - 1) + "…" : text);

export const NetworkGraph = memo(function NetworkGraph({ layers }: { layers: LayerInfo[] }) {
  const lay = useMemo(() => layoutNetwork(layers), [layers]);
  return (
    <svg className="dn-netgraph" width={lay.width} height={lay.height} viewBox={`0 0 ${lay.width} ${lay.height}`} role="img"
      aria-label={`layer graph of ${layers.length} layers`}>
      <defs>
        <marker id="dn-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M0,0 L8,4 L0,8 z" fill="#718096" />
        </marker>
      </defs>
      {lay.links.map((k, i) => {
        const [[x1, y1], [x2, y2]] = k.points;
        const my = (y1 + y2) / 2;
        return <path key={i} className="dn-netlink" d={`M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2 - 2}`} markerEnd="url(#dn-arrow)" />;
      })}
      {lay.boxes.map((b) => {
        const fam = layerFamily(b.layer.kind);
        const shape = fit(b.layer.output_shapes.map(shapeText).join("  "), 16);
        return (
          <g key={b.layer.name} transform={`translate(${b.x},${b.y})`} className={`dn-netbox fam-${fam.id}${b.layer.trainable === false ? " frozen" : ""}`} data-layer={b.layer.name}>
            <title>{`${b.layer.name} (${b.layer.kind})\ninputs: ${b.layer.inputs.join(", ") || "—"}\noutput: ${b.layer.output_shapes.join(" ")}${b.layer.params != null ? `\n${b.layer.params.toLocaleString()} parameters` : ""}`}</title>
            <rect width={b.w} height={b.h} rx={6} style={{ fill: fam.fill, stroke: fam.stroke }} />
            <text x={8} y={17} className="kind">{fit(`${fam.glyph} ${b.layer.kind}`, 23)}</text>
            <text x={8} y={38} className="shape">{shape}</text>
            <text x={b.w - 8} y={38} className="name" textAnchor="end">{fit(b.layer.name, Math.floor((b.w - 24 - shape.length * 6.7) / 6))}</text>
          </g>
        );
      })}
    </svg>
  );
});
