// The widgets of the configuration dialog: one per field kind (schemaForm.ts decides which), including the
// repeating sub-form of a list of objects (the Learner's inputs and targets: columns, converter, loss, ...).
import type { Field, InputContext } from "./schemaForm";
import { initValues, optionsFor, visible } from "./schemaForm";

interface FieldProps {
  f: Field;
  value: any;
  set: (v: unknown) => void;
  /** the values of the object this field belongs to (for conditions and dependent drop-downs) */
  siblings: Record<string, any>;
  ctx: InputContext;
  errors: Record<string, string>;
  path: string;
}

/** The rows of one object's fields that are shown under the current values. */
export function FieldRows({ fields, values, setValue, ctx, errors, prefix = "" }: {
  fields: Field[]; values: Record<string, any>; setValue: (name: string, v: unknown) => void;
  ctx: InputContext; errors: Record<string, string>; prefix?: string;
}) {
  return (
    <>
      {fields.filter((f) => visible(f, values)).map((f) => {
        const path = prefix + f.name;
        const err = Object.entries(errors).filter(([k]) => k === path || (f.kind !== "objects" && f.kind !== "object" && k.startsWith(path + "."))).map(([, m]) => m).join("; ");
        return (
          <div key={f.name} className={`dn-field kind-${f.kind}${err ? " has-error" : ""}`} data-field={path}>
            <label htmlFor={`f-${path}`} title={f.title}>{f.name}</label>
            <div className="dn-input">
              <FieldInput f={f} value={values[f.name]} set={(v) => setValue(f.name, v)} siblings={values} ctx={ctx} errors={errors} path={path} />
              {f.description && <div className="dn-help">{f.description}</div>}
              {err && <div className="dn-error" role="alert">{err}</div>}
            </div>
          </div>
        );
      })}
    </>
  );
}

function ObjectList({ f, value, set, ctx, errors, path }: FieldProps) {
  const items: Record<string, any>[] = Array.isArray(value) ? value : [];
  const update = (i: number, name: string, v: unknown) => set(items.map((it, j) => (j === i ? { ...it, [name]: v } : it)));
  return (
    <div className="dn-objects" id={`f-${path}`}>
      {items.length === 0 && <div className="muted">none yet</div>}
      {items.map((it, i) => (
        <fieldset key={i} className="dn-object" data-entry={`${path}.${i}`}>
          <legend>{f.name} {i + 1}
            <button type="button" className="dn-remove" aria-label={`remove ${f.name} ${i + 1}`} onClick={() => set(items.filter((_, j) => j !== i))}>remove</button>
          </legend>
          <FieldRows fields={f.fields!} values={it} setValue={(n, v) => update(i, n, v)} ctx={ctx} errors={errors} prefix={`${path}.${i}.`} />
        </fieldset>
      ))}
      <button type="button" className="dn-add" onClick={() => set([...items, initValues(f.fields!, {})])}>+ add {f.name.replace(/s$/, "")}</button>
    </div>
  );
}

export function FieldInput(props: FieldProps) {
  const { f, value: v, set, siblings, ctx, path } = props;
  const id = `f-${path}`;
  const columns = ctx.columns;
  const colNames = columns?.map((c) => c.name) ?? null;
  switch (f.kind) {
    case "objects":
      return <ObjectList {...props} />;
    case "object": // a nested option group: its fields as a sub-form, conditions among its own fields
      return (
        <fieldset className="dn-object" id={id} data-entry={path}>
          <FieldRows fields={f.fields!} values={v ?? {}} setValue={(n, x) => set({ ...(v ?? {}), [n]: x })} ctx={props.ctx}
            errors={props.errors} prefix={`${path}.`} />
        </fieldset>
      );
    case "bool":
      return <input id={id} type="checkbox" checked={!!v} onChange={(e) => set(e.target.checked)} />;
    case "enum": {
      const opts = optionsFor(f, siblings, ctx);
      if (!opts) return <input id={id} value={v ?? ""} placeholder="connect and configure the input to pick" onChange={(e) => set(e.target.value)} />;
      const known = opts.some((o) => String(o) === String(v ?? ""));
      return (
        <select id={id} value={v === null || v === undefined ? "" : String(v)} onChange={(e) => {
          const o = opts.find((x) => String(x) === e.target.value);
          set(e.target.value === "" && f.nullable ? null : o ?? e.target.value);
        }}>
          {f.nullable && <option value="">(none)</option>}
          {!known && v != null && v !== "" && <option value={String(v)}>{String(v)} (not in the list)</option>}
          {opts.map((o) => <option key={String(o)} value={String(o)}>{o === "" ? "(in order)" : String(o)}</option>)}
        </select>
      );
    }
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
      if (f.creates) {
        const exists = !!v && !!colNames?.includes(String(v));
        return (
          <>
            <input id={id} value={v ?? ""} list={`${id}-cols`} placeholder="a new column's name (or pick one to replace it)" onChange={(e) => set(e.target.value)} />
            {colNames && <datalist id={`${id}-cols`}>{columns!.map((c) => <option key={c.name} value={c.name}>{c.kind}</option>)}</datalist>}
            {v ? <span className="muted dn-colnote">{exists ? "replaces the input's column" : "a new column"}</span> : null}
          </>
        );
      }
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
      return <input id={id} type="text" inputMode="decimal" value={v ?? ""} placeholder={f.nullable ? "(none)" : String(f.default ?? "")}
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
