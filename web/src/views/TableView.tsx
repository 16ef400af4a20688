import { useEffect, useState } from "react";
import { api } from "../api";

interface Page {
  rows_total: number;
  offset: number;
  limit: number;
  columns: { name: string; kind: string; dtype: string; shape?: (number | null)[] }[];
  rows: any[][];
  positions?: number[];
}

const SORTABLE = ["number", "integer", "boolean", "string", "category"];

function Cell({ v }: { v: any }) {
  if (v === null || v === undefined) return <span className="muted">?</span>;
  if (typeof v === "object") {
    return (
      <span className="dn-cell-obj">
        {v.img && <img src={v.img} alt="" className="dn-thumb" />}
        {v.text && <span className="dn-cell-text">{v.text}</span>}
      </span>
    );
  }
  if (typeof v === "number") return <span className="num">{Number.isInteger(v) ? v : v.toPrecision(6).replace(/\.?0+$/, "")}</span>;
  return <span>{String(v)}</span>;
}

export function TableView({ docId, node, port }: { docId: string; node: string; port: string }) {
  const [offset, setOffset] = useState(0);
  const [limit, setLimit] = useState(50);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState("");
  const [sort, setSort] = useState<{ column: string; descending: boolean } | null>(null);
  useEffect(() => {
    let live = true;
    const order = sort ? `&sort=${encodeURIComponent(sort.column)}&descending=${sort.descending}` : "";
    api<Page>("GET", `/api/docs/${docId}/nodes/${encodeURIComponent(node)}/ports/${encodeURIComponent(port)}/table?offset=${offset}&limit=${limit}${order}`)
      .then((p) => live && (setPage(p), setError("")))
      .catch((e) => live && setError(e.message));
    return () => { live = false; };
  }, [docId, node, port, offset, limit, sort]);
  // a click sorts ascending, a second descending, a third restores the stored order
  const toggleSort = (column: string) => {
    setOffset(0);
    setSort((s) => (s?.column !== column ? { column, descending: false } : !s.descending ? { column, descending: true } : null));
  };
  if (error) return <div className="dn-error">{error} {sort && <button onClick={() => { setError(""); setSort(null); }}>show the stored order</button>}</div>;
  if (!page) return <div className="muted">loading…</div>;
  const last = Math.min(page.offset + page.rows.length, page.rows_total);
  return (
    <div className="dn-tableview">
      <div className="dn-pager">
        <button disabled={offset === 0} onClick={() => setOffset(0)}>«</button>
        <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - limit))}>◀ Previous</button>
        <span className="dn-rowinfo">rows {page.rows_total ? page.offset + 1 : 0}–{last} of {page.rows_total.toLocaleString()} · {page.columns.length} columns</span>
        <button disabled={last >= page.rows_total} onClick={() => setOffset(offset + limit)}>Next ▶</button>
        <button disabled={last >= page.rows_total} onClick={() => setOffset(Math.max(0, Math.floor((page.rows_total - 1) / limit) * limit))}>»</button>
        <select value={limit} onChange={(e) => { setLimit(Number(e.target.value)); setOffset(0); }}>
          {[20, 50, 100, 200].map((n) => <option key={n} value={n}>{n} rows</option>)}
        </select>
      </div>
      <div className="dn-tablewrap">
        <table className="dn-table">
          <thead>
            <tr>
              <th className="rowno">#</th>
              {page.columns.map((c) => (
                <th key={c.name} title={`${c.kind}, ${c.dtype}${c.shape ? ", shape " + c.shape.map((d) => d ?? "?").join("×") : ""}${SORTABLE.includes(c.kind) ? "\nclick to sort" : ""}`}
                  className={SORTABLE.includes(c.kind) ? "sortable" : ""} data-column={c.name}
                  aria-sort={sort?.column === c.name ? (sort.descending ? "descending" : "ascending") : "none"}
                  onClick={SORTABLE.includes(c.kind) ? () => toggleSort(c.name) : undefined}>
                  <div>{c.name}{sort?.column === c.name ? (sort.descending ? " ▼" : " ▲") : ""}</div>
                  <div className={`dn-kind kind-${c.kind}`}>{c.kind}{c.shape ? " " + c.shape.map((d) => d ?? "?").join("×") : ""}</div>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {page.rows.map((r, i) => (
              <tr key={page.offset + i}>
                <td className="rowno">{page.positions?.[i] ?? page.offset + i}</td>
                {r.map((v, j) => <td key={j}><Cell v={v} /></td>)}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
