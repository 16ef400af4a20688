import { useEffect, useState } from "react";
import { api } from "../api";

function fmt(v: any): string {
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString() : v.toFixed(4);
  return String(v ?? "");
}

export function ScorerView({ docId, node }: { docId: string; node: string }) {
  const [s, setS] = useState<any>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api("GET", `/api/docs/${docId}/nodes/${encodeURIComponent(node)}/scorer`).then(setS).catch((e) => setError(e.message));
  }, [docId, node]);
  if (error) return <div className="dn-error">{error}</div>;
  if (!s) return <div className="muted">loading…</div>;
  const cm = s.confusion_matrix;
  const max = cm ? Math.max(1, ...cm.counts.flat().filter((x: any) => typeof x === "number")) : 1;
  return (
    <div className="dn-scorerview">
      <div className="dn-scalars">
        {Object.entries(s.scalars).map(([k, v]) => (
          <div key={k} className="dn-scalar"><div className="k">{k.replace(/_/g, " ")}</div><div className="v">{fmt(v)}</div></div>
        ))}
      </div>
      {cm ? (
        <div className="dn-cm-wrap">
          <h3>Confusion matrix <span className="muted">(rows: actual, columns: predicted)</span></h3>
          <table className="dn-cm" data-testid="confusion-matrix">
            <thead><tr><th />{cm.predicted.map((p: string) => <th key={p} className="pred">{p}</th>)}</tr></thead>
            <tbody>
              {cm.counts.map((row: any[], i: number) => (
                <tr key={i}>
                  <th className="act">{cm.actual[i]}</th>
                  {row.map((v, j) => {
                    const a = typeof v === "number" ? v / max : 0;
                    const diag = cm.actual[i] === cm.predicted[j];
                    const bg = diag ? `rgba(39, 121, 70, ${0.08 + 0.85 * a})` : `rgba(197, 48, 48, ${0.06 + 0.85 * a})`;
                    return <td key={j} style={{ background: bg, color: a > 0.55 ? "#fff" : "#111" }} title={`actual ${cm.actual[i]}, predicted ${cm.predicted[j]}: ${v}`}>{fmt(v)}</td>;
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : <p className="muted">No confusion matrix among this node's outputs.</p>}
      {s.per_class && (
        <div>
          <h3>Per class</h3>
          <table className="dn-table">
            <thead><tr>{s.per_class.columns.map((c: string) => <th key={c}>{c}</th>)}</tr></thead>
            <tbody>{s.per_class.rows.map((r: any[], i: number) => <tr key={i}>{r.map((v, j) => <td key={j} className={typeof v === "number" ? "num" : ""}>{fmt(v)}</td>)}</tr>)}</tbody>
          </table>
        </div>
      )}
      {(s.other_tables ?? []).map((t: any) => (
        <div key={t.port}>
          <h3>{t.port.replace(/_/g, " ")}</h3>
          <table className="dn-table">
            <thead><tr>{t.columns.map((c: string) => <th key={c}>{c}</th>)}</tr></thead>
            <tbody>{t.rows.map((r: any[], i: number) => <tr key={i}>{r.map((v, j) => <td key={j} className={typeof v === "number" ? "num" : ""}>{fmt(v)}</td>)}</tr>)}</tbody>
          </table>
        </div>
      ))}
    </div>
  );
}
