import { useEffect, useState } from "react";
import { api } from "../api";
import { NetworkGraph } from "../NetworkGraph";

export function NetworkView({ docId, node, port }: { docId: string; node: string; port: string }) {
  const [net, setNet] = useState<any>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api("GET", `/api/docs/${docId}/nodes/${encodeURIComponent(node)}/ports/${encodeURIComponent(port)}/network`)
      .then(setNet).catch((e) => setError(e.message));
  }, [docId, node, port]);
  if (error) return <div className="dn-error">{error}</div>;
  if (!net) return <div className="muted">loading…</div>;
  const fmt = (n: number | undefined | null) => (n === undefined || n === null ? "" : n.toLocaleString());
  return (
    <div className="dn-networkview">
      <div className="dn-net-io">
        <div><b>Inputs:</b> {net.inputs.map((t: any) => `${t.name} ${t.shape} ${t.dtype}`).join(", ") || "none"}</div>
        <div><b>Outputs:</b> {net.outputs.map((t: any) => `${t.name} ${t.shape} ${t.dtype}`).join(", ") || "none"}</div>
        {net.total_params !== undefined && (
          <div className="dn-net-params"><b>Parameters:</b> {fmt(net.total_params)} ({fmt(net.trainable_params)} trainable, {fmt(net.frozen_params)} frozen)</div>
        )}
        {!net.executed && <div className="muted">Inferred at configure time; execute the node for parameter counts.</div>}
        {net.metadata?.class_names && <div><b>Classes:</b> {net.metadata.class_names.join(", ")}</div>}
      </div>
      <div className="dn-net-split">
      {net.layers.some((l: any) => l.inputs.length) && <div className="dn-net-picture"><NetworkGraph layers={net.layers} /></div>}
      <table className="dn-table dn-layers">
        <thead><tr><th>#</th><th>layer</th><th>kind</th><th>inputs</th><th>output shape</th><th>parameters</th><th>trainable</th></tr></thead>
        <tbody>
          {net.layers.map((l: any, i: number) => (
            <tr key={l.name}>
              <td className="rowno">{i}</td><td>{l.name}</td><td>{l.kind}</td><td className="muted">{l.inputs.join(", ")}</td>
              <td className="mono">{l.output_shapes.join(" ")}</td><td className="num">{fmt(l.params)}</td><td>{l.trainable ? "yes" : "frozen"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
      {net.layers.length === 0 && <p className="muted">This network was not built from layer nodes; its layer list is not known.</p>}
    </div>
  );
}
