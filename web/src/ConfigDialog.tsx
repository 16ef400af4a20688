// The configuration dialog, generated from the node's JSON schema (pydantic) and its editor hints: one tab per
// x-group, fields shown by x-show-if, pickers for columns and network tensors (schemaForm.ts, SchemaFields.tsx).
// Validated by the server on apply; its messages are shown at the fields and, all of them, at the top.
import { useEffect, useMemo, useRef, useState } from "react";
import type { NodeDesc } from "./graph";
import { FieldRows } from "./SchemaFields";
import { collect, fieldsOf, groupsOf, initValues, type ColumnInfo, type InputContext } from "./schemaForm";

export { fieldsOf };
export type { ColumnInfo };

const RAW = "Advanced";

interface Props {
  desc: NodeDesc;
  nodeId: string;
  label: string;
  config: Record<string, unknown>;
  columns: ColumnInfo[] | null;
  network?: InputContext["network"];
  onApply: (config: Record<string, unknown>) => Promise<{ field: string; message: string }[] | string | null>;
  onClose: () => void;
}

export function ConfigDialog({ desc, nodeId, label, config, columns, network, onApply, onClose }: Props) {
  const fields = useMemo(() => fieldsOf(desc.config_schema), [desc]);
  const tabs = useMemo(() => {
    const g = groupsOf(fields);
    return g.length > 1 || g[0] === RAW ? (g.includes(RAW) ? g : [...g, RAW]) : g;
  }, [fields]);
  const [tab, setTab] = useState(tabs[0] ?? "");
  const [values, setValues] = useState<Record<string, any>>(() => initValues(fields, config));
  const [raw, setRaw] = useState<string | null>(null); // the config as JSON text while it is being edited
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const top = useRef<HTMLDivElement>(null);
  const ctx: InputContext = { columns, network };

  const set = (name: string, v: unknown) => { setValues((old) => ({ ...old, [name]: v })); setRaw(null); };
  const current = () => collect(fields, values);

  // the first error in view: its tab first, then (after the render that shows that tab) the field itself. Waiting
  // for the render, not for an animation frame: on a busy machine the frame came first and nothing scrolled.
  const [reveal, setReveal] = useState<{ field: string; tab: string } | null>(null);
  useEffect(() => {
    const first = Object.keys(errors)[0];
    if (!first) return;
    const f = fields.find((x) => x.name === first.split(".")[0]);
    const want = f && tabs.length > 1 ? (tabs.includes(f.group) ? f.group : tabs[0]) : tab;
    if (want !== tab) setTab(want);
    setReveal({ field: first, tab: want });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [errors]);
  useEffect(() => {
    if (!reveal || reveal.tab !== tab) return; // its tab is not shown yet: this runs again when it is
    const el = document.querySelector(`.dn-config [data-field="${reveal.field}"]`) ?? document.querySelector(`.dn-config .has-error`);
    (el ?? top.current)?.scrollIntoView({ block: "center" });
    setReveal(null);
  }, [reveal, tab]);

  async function apply(close: boolean) {
    let out: Record<string, unknown>;
    if (raw !== null) {
      try {
        out = JSON.parse(raw);
      } catch (e: any) {
        setGeneral([`the JSON is not valid: ${e.message}`]);
        return;
      }
    } else {
      const r = current();
      setErrors(r.errors);
      if (Object.keys(r.errors).length) {
        setGeneral(Object.entries(r.errors).map(([k, m]) => `${k}: ${m}`));
        return;
      }
      out = r.config;
    }
    setGeneral([]);
    setBusy(true);
    const res = await onApply(out);
    setBusy(false);
    if (res === null) {
      if (raw !== null) { setValues(initValues(fields, out)); setRaw(null); }
      if (close) onClose();
      return;
    }
    if (typeof res === "string") {
      setGeneral([res]);
      top.current?.scrollIntoView({ block: "start" });
      return;
    }
    const e: Record<string, string> = {};
    for (const x of res) e[x.field] = e[x.field] ? `${e[x.field]}; ${x.message}` : x.message;
    setGeneral(res.map((x) => `${x.field}: ${x.message}`));
    setErrors(e);
  }

  const shown = tabs.length > 1 ? fields.filter((f) => f.group === tab) : fields;
  return (
    <div className="dn-modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="dn-modal dn-config" role="dialog" aria-label={`Configure ${label}`} onKeyDown={(e) => { e.stopPropagation(); if (e.key === "Escape") onClose(); }}>
        <header>
          <h2>Configure “{label}”</h2>
          <span className="muted">{desc.name} · {nodeId}</span>
          <button className="close" onClick={onClose} aria-label="close">×</button>
        </header>
        <p className="dn-desc">{desc.description.split(/\n\s*\n/)[0].replace(/\s*\n\s*/g, " ")}</p>
        {tabs.length > 1 && (
          <nav className="dn-tabs" role="tablist">
            {tabs.map((t) => {
              const bad = Object.keys(errors).some((k) => fields.find((f) => f.name === k.split(".")[0])?.group === t);
              return <button key={t} type="button" role="tab" aria-selected={t === tab} className={`${t === tab ? "active" : ""}${bad ? " has-error" : ""}`} onClick={() => setTab(t)}>{t}</button>;
            })}
          </nav>
        )}
        <form className="dn-form" onSubmit={(e) => { e.preventDefault(); apply(true); }}>
          <div ref={top} />
          {general.length > 0 && (
            <div className="dn-error general" role="alert">
              {general.length === 1 ? general[0] : <ul>{general.map((g, i) => <li key={i}>{g}</li>)}</ul>}
            </div>
          )}
          {fields.length === 0 && <p className="muted">This node has no options.</p>}
          <FieldRows fields={shown} values={values} setValue={set} ctx={ctx} errors={errors} />
          {tab === RAW && tabs.length > 1 && (
            <div className="dn-field kind-json dn-raw" data-field="(json)">
              <label htmlFor="f-raw-json">as JSON</label>
              <div className="dn-input">
                <textarea id="f-raw-json" className="mono" rows={8} spellCheck={false}
                  value={raw ?? JSON.stringify(current().config, null, 1)} onChange={(e) => setRaw(e.target.value)} />
                <div className="dn-help">the whole configuration; an edit here replaces the form's values on Apply</div>
              </div>
            </div>
          )}
          <footer>
            <button type="button" onClick={onClose}>Cancel</button>
            <button type="button" disabled={busy} onClick={() => apply(false)}>Apply</button>
            <button type="submit" className="primary" disabled={busy}>OK</button>
          </footer>
        </form>
      </div>
    </div>
  );
}
