// The node repository: every registered node grouped by category; a search lists the matches ranked, name
// matches first (paletteSearch.ts), each with its category.
import { memo, useMemo, useState } from "react";
import type { Catalogue, NodeDesc } from "./graph";
import { rankNodes } from "./paletteSearch";

/** `state`: "loading" while the node list is on its way, "ready", or the sentence saying why it failed. */
export const Palette = memo(function Palette({ catalogue, state, importErrors, onAdd }: { catalogue: Catalogue; state: string; importErrors: Record<string, string>; onAdd: (type: string) => void }) {
  const [q, setQ] = useState("");
  const [closed, setClosed] = useState<Record<string, boolean>>({});
  const [hover, setHover] = useState<NodeDesc | null>(null);
  const groups = useMemo(() => {
    if (q.trim()) return [["", rankNodes(catalogue, q)] as const];
    const m = new Map<string, NodeDesc[]>();
    for (const d of Object.values(catalogue)) {
      const top = d.category || "Other";
      m.set(top, [...(m.get(top) ?? []), d]);
    }
    return [...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v.sort((a, b) => a.name.localeCompare(b.name))] as const);
  }, [catalogue, q]);
  const count = groups.reduce((a, [, v]) => a + v.length, 0);
  return (
    <aside className="dn-palette">
      <div className="dn-palette-head">
        <b>Node repository</b>
        <input type="search" placeholder={state === "ready" ? `search ${Object.keys(catalogue).length} nodes…` : "search nodes…"} value={q} onChange={(e) => setQ(e.target.value)} aria-label="search nodes" />
      </div>
      <div className="dn-palette-list">
        {groups.map(([cat, items]) => {
          const isClosed = closed[cat] && !q;
          return (
            <div key={cat || "matches"} className="dn-cat">
              {cat ? <div className="dn-cat-head" onClick={() => setClosed({ ...closed, [cat]: !closed[cat] })}>{isClosed ? "▸" : "▾"} {cat} <span className="muted">{items.length}</span></div>
                : <div className="dn-cat-head muted">{items.length} match{items.length === 1 ? "" : "es"}, best first</div>}
              {!isClosed && items.map((d) => (
                <div key={d.type} className="dn-palette-item" draggable data-type={d.type}
                  onDragStart={(e) => { e.dataTransfer.setData("application/x-deepnodes-node", d.type); e.dataTransfer.effectAllowed = "copy"; }}
                  onDoubleClick={() => onAdd(d.type)}
                  onMouseEnter={() => setHover(d)}
                  title={`${d.name} (${d.type})\n\n${d.description}\n\nDrag onto the canvas, or double-click.`}>
                  <span className="ports">{d.inputs.map((p) => <i key={p.name} className={`pt pt-${p.type}`} />)}</span>
                  <span className="dn-item-name">{d.name}</span>
                  {!cat && <span className="dn-item-cat muted">{d.category.split("/").pop()}</span>}
                  <span className="ports out">{d.outputs.map((p) => <i key={p.name} className={`pt pt-${p.type}`} />)}</span>
                </div>
              ))}
            </div>
          );
        })}
        {state === "loading" && <div className="muted pad dn-palette-loading" role="status">loading nodes…</div>}
        {state !== "loading" && state !== "ready" && <div className="dn-error-text pad" role="alert">{state}</div>}
        {state === "ready" && count === 0 && <div className="muted pad">No node matches “{q}”.</div>}
        {Object.keys(importErrors).length > 0 && (
          <div className="dn-import-errors" title={Object.entries(importErrors).map(([k, v]) => `${k}: ${v}`).join("\n")}>
            {Object.keys(importErrors).length} node module(s) failed to load
          </div>
        )}
      </div>
      <div className="dn-palette-desc">
        {hover ? (<><b>{hover.name}</b><div className="muted">{hover.category} · {hover.type}</div><p>{hover.description}</p>
          <div className="muted">in: {hover.inputs.map((p) => `${p.name} (${p.type})`).join(", ") || "—"}<br />out: {hover.outputs.map((p) => `${p.name} (${p.type})`).join(", ") || "—"}</div></>)
          : <span className="muted">Point at a node to read its description; drag it onto the canvas.</span>}
      </div>
    </aside>
  );
})
