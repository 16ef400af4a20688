// The Open and Save as dialogs.
import { useEffect, useState } from "react";
import { api, ApiError } from "../api";

export function OpenDialog({ onOpen, onClose }: { onOpen: (w: { path?: string; example?: string }) => void; onClose: () => void }) {
  const [wfs, setWfs] = useState<any[] | null>(null);
  const [exs, setExs] = useState<any[] | null>(null);
  const [ws, setWs] = useState("");
  const [err, setErr] = useState("");
  useEffect(() => {
    api("GET", "/api/workflows").then((r) => { setWfs(r.workflows); setWs(r.workspace); }).catch((e) => setErr(e.message));
    api("GET", "/api/examples").then((r) => setExs(r.examples)).catch((e) => setErr(e.message));
  }, []);
  return (
    <div className="dn-modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="dn-modal dn-open" role="dialog" aria-label="Open a workflow">
        <header><h2>Open a workflow</h2><button className="close" onClick={onClose} aria-label="close">×</button></header>
        {err && <div className="dn-error">{err}</div>}
        <h3>Examples</h3>
        <ul className="dn-filelist">
          {exs?.map((x) => (
            <li key={x.file}><button data-example={x.file} onClick={() => onOpen({ example: x.file })}><b>{x.name}</b> <span className="muted">{x.file} · {x.nodes} nodes</span>{x.description && <div className="muted">{x.description}</div>}</button></li>
          ))}
          {exs && !exs.length && <li className="muted">No examples are installed.</li>}
        </ul>
        <h3>In the workspace <span className="muted">{ws}</span></h3>
        <ul className="dn-filelist">
          {wfs?.map((x) => (
            <li key={x.path}><button data-path={x.path} onClick={() => onOpen({ path: x.path })}><b>{x.path}</b> <span className="muted">{x.name} · {x.nodes} nodes</span></button></li>
          ))}
          {wfs && !wfs.length && <li className="muted">No workflows here yet.</li>}
        </ul>
      </div>
    </div>
  );
}

export function SaveAsDialog({ initial, onSave, onClose }: { initial: string; onSave: (path: string, overwrite: boolean) => Promise<ApiError | null>; onClose: () => void }) {
  const [path, setPath] = useState(initial);
  const [err, setErr] = useState<ApiError | null>(null);
  const submit = async (overwrite: boolean) => setErr(await onSave(path, overwrite));
  return (
    <div className="dn-modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="dn-modal dn-saveas" role="dialog" aria-label="Save as">
        <header><h2>Save as</h2><button className="close" onClick={onClose} aria-label="close">×</button></header>
        <form onSubmit={(e) => { e.preventDefault(); submit(false); }}>
          <label>File in the workspace <input autoFocus value={path} onChange={(e) => { setPath(e.target.value); setErr(null); }} data-testid="saveas-path" /></label>
          {err && <div className="dn-error" role="alert">{err.message}</div>}
          <footer>
            <button type="button" onClick={onClose}>Cancel</button>
            {err?.status === 409 && <button type="button" className="danger" onClick={() => submit(true)}>Overwrite</button>}
            <button type="submit" className="primary">Save</button>
          </footer>
        </form>
      </div>
    </div>
  );
}
