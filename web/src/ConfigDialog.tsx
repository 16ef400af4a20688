// The configuration dialog, generated from the node's JSON schema (pydantic). Validated by the server on
// apply; its messages are shown at the fields.
import { useMemo, useState } from "react";
import type { NodeDesc } from "./graph";

export interface ColumnInfo {
  name: string;
  kind: string;
  dtype?: string;
  shape?: (number | null)[];
}

type FieldKind = "bool" | "number" | "integer" | "enum" | "string" | "code" | "column" | "columns" | "multienum" | "list" | "json";

interface Field {
  name: string;
  title: string;
  description: string;
  kind: FieldKind;
  nullable: boolean;
  options?: unknown[];
  itemType?: string;
  min?: number;
  max?: number;
  default: unknown;
}

function resolve(schema: any, root: any): any {
  if (schema && schema.$ref) {
    const name = String(schema.$ref).split("/").pop()!;
    return { ...(root.$defs?.[name] ?? root.definitions?.[name] ?? {}), ...schema, $ref: undefined };
  }
  return schema ?? {};
}

const isColumnName = (n: string) => /(^|_)(column|col)$/.test(n);
const isColumnsName = (n: string) => /(^|_)(columns|cols)$/.test(n);
const isCodeName = (n: string) => /(^|_)(script|code|source_code)$/.test(n);

export function fieldsOf(schema: any): Field[] {
  const props = schema?.properties ?? {};
  return Object.entries(props).map(([name, raw]: [string, any]) => {
    let s = resolve(raw, schema);
    let nullable = false;
    const alts = s.anyOf ?? s.oneOf;
    if (alts) {
      const nonNull = alts.filter((a: any) => a.type !== "null");
      nullable = nonNull.length < alts.length;
      if (nonNull.length === 1) s = { ...resolve(nonNull[0], schema), description: raw.description, default: raw.default, title: raw.title };
      else s = { ...s, type: "json" };
    }
    const widget = s["x-widget"] ?? raw["x-widget"] ?? s.widget ?? raw.widget;
    const f: Field = {
      name, title: raw.title ?? name, description: raw.description ?? s.description ?? "", nullable,
      default: raw.default, kind: "json",
    };
    if (s.minimum !== undefined) f.min = s.minimum;
    if (s.exclusiveMinimum !== undefined) f.min = s.exclusiveMinimum;
    if (s.maximum !== undefined) f.max = s.maximum;
    if (s.exclusiveMaximum !== undefined) f.max = s.exclusiveMaximum;
    if (widget === "code" || s.format === "python" || isCodeName(name)) f.kind = "code";
    else if (widget === "columns" || (s.type === "array" && isColumnsName(name))) f.kind = "columns";
    else if (widget === "column" || (s.type === "string" && !s.enum && (isColumnName(name) || raw.column === true))) f.kind = "column";
    else if (s.enum) { f.kind = "enum"; f.options = s.enum; }
    else if (s.const !== undefined) { f.kind = "enum"; f.options = [s.const]; }
    else if (s.type === "boolean") f.kind = "bool";
    else if (s.type === "integer") f.kind = "integer";
    else if (s.type === "number") f.kind = "number";
    else if (s.type === "string") f.kind = s.maxLength && s.maxLength > 500 ? "code" : "string";
    else if (s.type === "array") {
      let it = resolve(s.items, schema);
      if (it.anyOf) it = resolve(it.anyOf.find((a: any) => a.type !== "null") ?? {}, schema);
      if (it.enum) { f.kind = "multienum"; f.options = it.enum; }
      else if (["number", "integer", "string"].includes(it.type)) { f.kind = "list"; f.itemType = it.type; }
    }
    return f;
  });
}

function toText(v: unknown, f: Field): string {
  if (v === null || v === undefined) return "";
  if (f.kind === "list" && Array.isArray(v)) return v.join(", ");
  if (f.kind === "json") return JSON.stringify(v);
  return String(v);
}

/** Parse the form's text back into a value; a string is an error message. */
function parse(text: string, f: Field): { value?: unknown; error?: string } {
  const t = text.trim();
  if (t === "" && f.nullable) return { value: null };
  switch (f.kind) {
    case "integer":
    case "number": {
      if (t === "") return { error: "A number is needed" };
      const n = Number(t);
      if (!Number.isFinite(n)) return { error: `'${t}' is not a number` };
      if (f.kind === "integer" && !Number.isInteger(n)) return { error: `'${t}' is not a whole number` };
      return { value: n };
    }
    case "list": {
      if (t === "") return { value: [] };
      const parts = t.split(",").map((x) => x.trim()).filter((x) => x !== "");
      if (f.itemType === "string") return { value: parts };
      const nums = parts.map(Number);
      const bad = parts.find((_, i) => !Number.isFinite(nums[i]) || (f.itemType === "integer" && !Number.isInteger(nums[i])));
      if (bad !== undefined) return { error: `'${bad}' is not a${f.itemType === "integer" ? " whole" : ""} number` };
      return { value: nums };
    }
    case "json":
      if (t === "") return { value: null };
      try {
        return { value: JSON.parse(t) };
      } catch {
        return { value: t };
      }
    default:
      return { value: text };
  }
}

interface Props {
  desc: NodeDesc;
  nodeId: string;
  label: string;
  config: Record<string, unknown>;
  columns: ColumnInfo[] | null;
  onApply: (config: Record<string, unknown>) => Promise<{ field: string; message: string }[] | string | null>;
  onClose: () => void;
}

export function ConfigDialog({ desc, nodeId, label, config, columns, onApply, onClose }: Props) {
  const fields = useMemo(() => fieldsOf(desc.config_schema), [desc]);
  const [values, setValues] = useState<Record<string, any>>(() => {
    const v: Record<string, any> = {};
    for (const f of fields) {
      const cur = f.name in config ? config[f.name] : f.default;
      v[f.name] = ["bool", "enum", "columns", "multienum"].includes(f.kind) ? cur : toText(cur, f);
    }
    return v;
  });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState("");
  const [busy, setBusy] = useState(false);

  const set = (name: string, v: unknown) => setValues((old) => ({ ...old, [name]: v }));

  async function apply(close: boolean) {
    const out: Record<string, unknown> = {};
    const errs: Record<string, string> = {};
    for (const f of fields) {
      const v = values[f.name];
      if (["bool", "enum", "columns", "multienum"].includes(f.kind)) out[f.name] = v;
      else {
        const p = parse(String(v ?? ""), f);
        if (p.error) errs[f.name] = p.error;
        else out[f.name] = p.value;
      }
    }
    setErrors(errs);
    setGeneral("");
    if (Object.keys(errs).length) return;
    setBusy(true);
    const res = await onApply(out);
    setBusy(false);
    if (res === null) {
      if (close) onClose();
      return;
    }
    if (typeof res === "string") setGeneral(res);
    else {
      const e: Record<string, string> = {};
      for (const x of res) {
        const top = x.field.split(".")[0];
        if (fields.some((f) => f.name === top)) e[top] = e[top] ? `${e[top]}; ${x.message}` : x.message;
        else setGeneral(`${x.field}: ${x.message}`);
      }
      setErrors(e);
    }
  }

  const colNames = columns?.map((c) => c.name) ?? null;

  return (
    <div className="dn-modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="dn-modal dn-config" role="dialog" aria-label={`Configure ${label}`} onKeyDown={(e) => e.stopPropagation()}>
        <header>
          <h2>Configure “{label}”</h2>
          <span className="muted">{desc.name} · {nodeId}</span>
          <button className="close" onClick={onClose} aria-label="close">×</button>
        </header>
        <p className="dn-desc">{desc.description.split("\n")[0]}</p>
        <form className="dn-form" onSubmit={(e) => { e.preventDefault(); apply(true); }}>
          {fields.length === 0 && <p className="muted">This node has no options.</p>}
          {fields.map((f) => (
            <div key={f.name} className={`dn-field kind-${f.kind}${errors[f.name] ? " has-error" : ""}`} data-field={f.name}>
              <label htmlFor={`f-${f.name}`}>{f.name}</label>
              <div className="dn-input">
                {renderInput(f, values[f.name], (v) => set(f.name, v), colNames, columns)}
                {f.description && <div className="dn-help">{f.description}</div>}
                {errors[f.name] && <div className="dn-error" role="alert">{errors[f.name]}</div>}
              </div>
            </div>
          ))}
          {general && <div className="dn-error general" role="alert">{general}</div>}
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

function renderInput(f: Field, v: any, set: (v: unknown) => void, colNames: string[] | null, columns: ColumnInfo[] | null) {
  const id = `f-${f.name}`;
  switch (f.kind) {
    case "bool":
      return <input id={id} type="checkbox" checked={!!v} onChange={(e) => set(e.target.checked)} />;
    case "enum":
      return (
        <select id={id} value={v === null || v === undefined ? "" : String(v)} onChange={(e) => {
          const o = f.options!.find((x) => String(x) === e.target.value);
          set(e.target.value === "" && f.nullable ? null : o);
        }}>
          {f.nullable && <option value="">(none)</option>}
          {f.options!.map((o) => <option key={String(o)} value={String(o)}>{String(o)}</option>)}
        </select>
      );
    case "multienum": {
      const cur: unknown[] = Array.isArray(v) ? v : [];
      return (
        <div className="dn-checks" id={id}>
          {f.options!.map((o) => (
            <label key={String(o)}><input type="checkbox" checked={cur.includes(o)}
              onChange={(e) => set(e.target.checked ? [...cur, o] : cur.filter((x) => x !== o))} />{String(o)}</label>
          ))}
        </div>
      );
    }
    case "column":
      if (colNames) {
        const known = colNames.includes(String(v ?? ""));
        return (
          <select id={id} value={String(v ?? "")} onChange={(e) => set(e.target.value === "" && f.nullable ? "" : e.target.value)}>
            {(f.nullable || !v) && <option value="">(none)</option>}
            {!known && v ? <option value={String(v)}>{String(v)} (not in the input)</option> : null}
            {columns!.map((c) => <option key={c.name} value={c.name}>{c.name} — {c.kind}</option>)}
          </select>
        );
      }
      return <input id={id} value={v ?? ""} placeholder="connect and configure the input to pick a column" onChange={(e) => set(e.target.value)} />;
    case "columns": {
      const cur: string[] = Array.isArray(v) ? v : [];
      if (!colNames) {
        return <input id={id} value={cur.join(", ")} placeholder="column names, comma-separated"
          onChange={(e) => set(e.target.value.split(",").map((x) => x.trim()).filter(Boolean))} />;
      }
      const all = [...colNames, ...cur.filter((c) => !colNames.includes(c))];
      return (
        <div className="dn-checks columns" id={id}>
          {all.map((c) => (
            <label key={c}><input type="checkbox" checked={cur.includes(c)}
              onChange={(e) => set(e.target.checked ? [...cur, c] : cur.filter((x) => x !== c))} />
              {c}{!colNames.includes(c) && " (not in the input)"}</label>
          ))}
        </div>
      );
    }
    case "code":
      return (
        <textarea id={id} className="dn-code" spellCheck={false} rows={14} value={v ?? ""}
          onChange={(e) => set(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Tab") {
              e.preventDefault();
              const t = e.currentTarget;
              const s = t.selectionStart;
              const nv = t.value.slice(0, s) + "    " + t.value.slice(t.selectionEnd);
              set(nv);
              requestAnimationFrame(() => { t.selectionStart = t.selectionEnd = s + 4; });
            }
          }} />
      );
    case "integer":
    case "number":
      return <input id={id} type="text" inputMode="decimal" value={v ?? ""} placeholder={f.nullable ? "(none)" : ""}
        title={[f.min !== undefined ? `min ${f.min}` : "", f.max !== undefined ? `max ${f.max}` : ""].filter(Boolean).join(", ")}
        onChange={(e) => set(e.target.value)} />;
    case "list":
      return <input id={id} value={v ?? ""} placeholder={`${f.itemType}s, comma-separated`} onChange={(e) => set(e.target.value)} />;
    case "json":
      return <textarea id={id} className="mono" rows={String(v ?? "").length > 60 ? 4 : 1} value={v ?? ""} placeholder="a value (JSON)" spellCheck={false} onChange={(e) => set(e.target.value)} />;
    default:
      return <input id={id} value={v ?? ""} placeholder={f.nullable ? "(none)" : ""} onChange={(e) => set(e.target.value)} />;
  }
}
