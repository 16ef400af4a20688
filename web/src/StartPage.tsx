// The start page: example cards (title, purpose, a picture of the workflow, expected run time), recent
// workflows and New. Shown over the empty canvas of a fresh editor; reaching for the node repository dismisses it.
import { memo, useEffect, useState } from "react";
import { api } from "./api";

export interface Outline { nodes: [number, number, string][]; links: [number, number][] }

interface Example { file: string; name: string; description: string; runtime?: string; nodes: number; outline?: Outline }
interface WorkflowFile { path: string; name: string; nodes: number; outline?: Outline }

const RECENT_KEY = "deepnodes.recent";
const FAMILY_COLOR: Record<string, string> = { data: "#dd6b20", layers: "#3182ce", dl: "#805ad5", text: "#38a169", ml: "#d53f8c", python: "#2f855a" };

/** The most recently opened or saved workflow files of this browser, newest first. */
export function recentPaths(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
    return Array.isArray(v) ? v.filter((x) => typeof x === "string").slice(0, 8) : [];
  } catch {
    return [];
  }
}

export function rememberRecent(path: string) {
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify([path, ...recentPaths().filter((p) => p !== path)].slice(0, 8)));
  } catch { /* storage full or off: the list is a convenience */ }
}

/** A small picture of a workflow: its nodes where the file puts them, coloured by family, and its links. */
export const Thumbnail = memo(function Thumbnail({ outline, w = 220, h = 110 }: { outline?: Outline; w?: number; h?: number }) {
  if (!outline || !outline.nodes.length) return <svg className="dn-thumbgraph" width={w} height={h} />;
  const xs = outline.nodes.map((n) => n[0]);
  const ys = outline.nodes.map((n) => n[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const pad = 10;
  const s = Math.min((w - 2 * pad) / Math.max(1, x1 - x0), (h - 2 * pad) / Math.max(1, y1 - y0), 0.5);
  const ox = (w - (x1 - x0) * s) / 2;
  const oy = (h - (y1 - y0) * s) / 2;
  const P = (i: number): [number, number] => [ox + (outline.nodes[i][0] - x0) * s, oy + (outline.nodes[i][1] - y0) * s];
  return (
    <svg className="dn-thumbgraph" width={w} height={h} viewBox={`0 0 ${w} ${h}`} aria-hidden="true">
      {outline.links.map(([a, b], i) => {
        const [ax, ay] = P(a);
        const [bx, by] = P(b);
        return <line key={i} x1={ax} y1={ay} x2={bx} y2={by} stroke="#a0aec0" strokeWidth={1} />;
      })}
      {outline.nodes.map((n, i) => {
        const [x, y] = P(i);
        return <rect key={i} x={x - 5} y={y - 4} width={10} height={8} rx={2} fill={FAMILY_COLOR[n[2]] ?? "#718096"} />;
      })}
    </svg>
  );
});

export function StartPage({ onOpen, onNew, onClose }: {
  onOpen: (w: { path?: string; example?: string }) => void; onNew: () => void; onClose: () => void;
}) {
  const [examples, setExamples] = useState<Example[] | null>(null);
  const [files, setFiles] = useState<WorkflowFile[]>([]);
  const [err, setErr] = useState("");
  useEffect(() => {
    api("GET", "/api/examples").then((r) => setExamples(r.examples)).catch((e) => setErr(e.message));
    api("GET", "/api/workflows").then((r) => setFiles(r.workflows)).catch(() => {});
    performance.mark("deepnodes:start-page");
  }, []);
  useEffect(() => {
    if (examples) requestAnimationFrame(() => { window.__dn = window.__dn || {}; window.__dn.startPage = performance.now(); });
  }, [examples]);
  useEffect(() => {
    // reaching for the node repository (to drag or double-click a node) puts the canvas back in front
    const away = (e: Event) => { if ((e.target as HTMLElement)?.closest?.(".dn-palette")) onClose(); };
    window.addEventListener("pointerdown", away, true);
    window.addEventListener("dragstart", away, true);
    return () => { window.removeEventListener("pointerdown", away, true); window.removeEventListener("dragstart", away, true); };
  }, [onClose]);
  const byPath = new Map(files.map((f) => [f.path, f]));
  const recent = recentPaths().filter((p) => byPath.has(p)).map((p) => byPath.get(p)!);
  const others = files.filter((f) => !recent.includes(f)).slice(0, Math.max(0, 6 - recent.length));
  return (
    <div className="dn-start" role="region" aria-label="start page" onDragEnter={onClose}>
      <div className="dn-start-inner">
        <header>
          <h1>Start</h1>
          <button className="primary" onClick={onNew} data-testid="start-new">New empty workflow</button>
          <span className="muted">or drag a node from the repository onto the canvas</span>
          <button className="close" onClick={onClose} aria-label="close the start page">×</button>
        </header>
        {err && <div className="dn-error">{err}</div>}
        <h2>Examples</h2>
        <div className="dn-cards">
          {examples === null && <span className="muted">loading…</span>}
          {examples?.map((x) => (
            <button key={x.file} className="dn-card" data-example={x.file} onClick={() => onOpen({ example: x.file })} title={`${x.name}\n${x.description}\n\nopen ${x.file}`}>
              <Thumbnail outline={x.outline} />
              <b className="dn-card-title">{x.name}</b>
              <span className="dn-card-desc">{x.description || x.file}</span>
              <span className="dn-card-meta muted">{x.nodes} nodes{x.runtime ? ` · ${x.runtime}` : ""}</span>
            </button>
          ))}
          {examples && !examples.length && <span className="muted">No examples are installed.</span>}
        </div>
        {(recent.length > 0 || others.length > 0) && (
          <>
            <h2>{recent.length ? "Recent workflows" : "Workflows in the workspace"}</h2>
            <ul className="dn-recent">
              {[...recent, ...others].map((f) => (
                <li key={f.path}>
                  <button data-path={f.path} onClick={() => onOpen({ path: f.path })}>
                    <Thumbnail outline={f.outline} w={64} h={34} />
                    <b>{f.name}</b> <span className="muted">{f.path} · {f.nodes} nodes</span>
                  </button>
                </li>
              ))}
            </ul>
          </>
        )}
      </div>
    </div>
  );
}
