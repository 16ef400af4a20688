// The attention heat map of a Sequence Decoder's 'attention' output: source tokens across, the decoder's
// steps down, one map per layer and head (a Transformer) or the single Luong/Bahdanau map; the numbers are the
// network's own attention weights (server: routes_text.py).
import { useEffect, useState } from "react";
import { api } from "./api";
import { colour } from "./attentionColour";

interface AttMap { layer: string; head: number; weights: number[][] }
interface Att { source: string[]; target: string[]; row: number | null; maps: AttMap[] }

const label = (t: string) => t.replace(/\u2581/g, "_");
const mapName = (m: AttMap) => (m.head >= 0 ? `${m.layer} · head ${m.head}` : m.layer);

export function AttentionView({ docId, node, port }: { docId: string; node: string; port: string }) {
  const [att, setAtt] = useState<Att | null>(null);
  const [error, setError] = useState("");
  const [pick, setPick] = useState(0);
  useEffect(() => {
    api<Att>("GET", `/api/docs/${docId}/nodes/${encodeURIComponent(node)}/ports/${encodeURIComponent(port)}/attention`)
      .then(setAtt).catch((e) => setError(e.message));
  }, [docId, node, port]);
  if (error) return <div className="dn-error">{error}</div>;
  if (!att) return <div className="muted">loading…</div>;
  if (!att.maps.length) return <div className="muted">No attention maps: the network has no decoder-to-encoder attention, or the node's option 'attention_row' is empty.</div>;
  const m = att.maps[Math.min(pick, att.maps.length - 1)];
  // the colour scale runs from 0 to the map's largest weight (as in the CLI's PNG), so a spread-out map still shows
  const top = Math.max(1e-9, ...m.weights.flat());
  return (
    <div className="dn-attview" data-testid="attention-view">
      <p className="muted">Row {att.row} of the table: each row below is a step of the decoder (the token it chose), each column a source token; a cell is how much that step attended to that token (each row sums to 1).</p>
      <div className="dn-att-picks" role="tablist" aria-label="attention maps">
        {att.maps.map((x, i) => (
          <button key={i} role="tab" aria-selected={i === pick} className={i === pick ? "on" : ""} onClick={() => setPick(i)}>{mapName(x)}</button>
        ))}
      </div>
      <div className="dn-att-scale">colour: <span style={{ background: colour(0) }} /> 0 … <span style={{ background: colour(1) }} /> {top.toFixed(3)} (the largest weight of this map)</div>
      <table className="dn-att" data-testid="attention-map" aria-label={mapName(m)}>
        <thead><tr><th />{att.source.map((s, j) => <th key={j} className="src">{label(s)}</th>)}</tr></thead>
        <tbody>
          {m.weights.map((row, i) => (
            <tr key={i}>
              <th className="tgt">{label(att.target[i] ?? "")}</th>
              {row.map((w, j) => (
                <td key={j} style={{ background: colour(w / top) }} data-w={w} title={`${label(att.target[i] ?? "")} → ${label(att.source[j])}: ${w.toFixed(3)}`} />
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
