// The configuration dialog's model, generated from a node config's JSON schema (pydantic) and its editor hints
// (deepnodes/core/ui.py: x-group, x-show-if, x-widget, x-enum, x-enum-source, x-enum-map). Pure functions, no
// React: which widget each option gets, which tab it sits on, when it is shown, its drop-down options, and the
// text <-> value round trip (an empty text means the option's default). Unit-tested with Vitest.

export interface ColumnInfo {
  name: string;
  kind: string;
  dtype?: string;
  shape?: (number | null)[];
}

/** What the dialog knows about the node's inputs: the table's columns and the network's tensors. */
export interface InputContext {
  columns: ColumnInfo[] | null;
  network?: { inputs: { name: string }[]; outputs: { name: string }[] } | null;
}

export type FieldKind =
  | "bool" | "number" | "integer" | "enum" | "string" | "code" | "column" | "columns" | "multienum" | "list"
  | "json" | "objects" | "object";

/** One condition set: every key must hold one of its values. A field is shown if any set matches. */
export type Condition = Record<string, unknown[]>;

export interface Field {
  name: string;
  title: string;
  description: string;
  kind: FieldKind;
  nullable: boolean;
  options?: unknown[];
  /** options a string field suggests (x-enum): a drop-down that still shows a value typed elsewhere */
  suggest?: string[];
  enumSource?: string;
  enumMap?: Record<string, string[]>;
  enumDepends?: string;
  itemType?: string;
  /** a column field that names a column the node creates: any new name is allowed, the input's columns are suggestions */
  creates?: boolean;
  /** the fields of one entry of a list of objects (the Learner's inputs and targets), or of a nested option group
   *  (kind "object": the Learner's `distributed`) */
  fields?: Field[];
  group: string;
  showIf: Condition[] | null;
  min?: number;
  max?: number;
  default: unknown;
}

export const DEFAULT_GROUP = "General";

function resolve(schema: any, root: any): any {
  if (schema && schema.$ref) {
    const name = String(schema.$ref).split("/").pop()!;
    return { ...(root.$defs?.[name] ?? root.definitions?.[name] ?? {}), ...schema, $ref: undefined };
  }
  return schema ?? {};
}

const isColumnName = (n: string) => /(^|_)(column|col)$/.test(n);
const isColumnsName = (n: string) => /(^|_)(columns|cols)$/.test(n);
// A column the node writes: `output_…`/`new_…` options, and those described as "name of the … column" (the
// convention of every option that names a column a node adds, e.g. Image to Tensor's output_column).
const createsColumn = (n: string, description: string) => /^(output|new)_/.test(n) || /^name of\b/i.test(description.trim());
const isCodeName = (n: string) => /(^|_)(script|code|source_code)$/.test(n);

export function fieldsOf(schema: any, root: any = schema): Field[] {
  const props = schema?.properties ?? {};
  return Object.entries(props).filter(([, raw]: [string, any]) => !raw?.["x-hidden"]).map(([name, raw]: [string, any]) => {
    let s = resolve(raw, root);
    let nullable = false;
    const alts = s.anyOf ?? s.oneOf;
    if (alts) {
      const nonNull = alts.filter((a: any) => a.type !== "null");
      nullable = nonNull.length < alts.length;
      if (nonNull.length === 1) s = { ...resolve(nonNull[0], root), description: raw.description, default: raw.default, title: raw.title };
      else s = { ...s, type: "json" };
    }
    const hint = (k: string) => raw[k] ?? s[k];
    const widget = hint("x-widget") ?? hint("widget");
    const cond = hint("x-show-if");
    const f: Field = {
      name, title: raw.title ?? name, description: raw.description ?? s.description ?? "", nullable,
      default: raw.default, kind: "json", group: hint("x-group") ?? DEFAULT_GROUP,
      showIf: cond ? (Array.isArray(cond) ? cond : [cond]) : null,
    };
    if (s.minimum !== undefined) f.min = s.minimum;
    if (s.exclusiveMinimum !== undefined) f.min = s.exclusiveMinimum;
    if (s.maximum !== undefined) f.max = s.maximum;
    if (s.exclusiveMaximum !== undefined) f.max = s.exclusiveMaximum;
    const source = hint("x-enum-source");
    if (source) f.enumSource = source;
    if (hint("x-enum-map")) { f.enumMap = hint("x-enum-map"); f.enumDepends = hint("x-enum-depends"); }
    if (hint("x-enum")) f.suggest = hint("x-enum").map(String);
    if (widget === "json") f.kind = "json";
    else if (s.type === "object" && s.properties) { f.kind = "object"; f.fields = fieldsOf(s, root); }
    else if (widget === "code" || s.format === "python" || isCodeName(name)) f.kind = "code";
    else if (widget === "columns" || (s.type === "array" && isColumnsName(name))) f.kind = "columns";
    else if (widget === "column" || widget === "new_column" || (s.type === "string" && !s.enum && (isColumnName(name) || raw.column === true))) {
      f.kind = "column";
      if (widget === "new_column" || createsColumn(name, f.description)) f.creates = true;
    }
    else if (s.enum) { f.kind = "enum"; f.options = s.enum; }
    else if (s.const !== undefined) { f.kind = "enum"; f.options = [s.const]; }
    else if (s.type === "boolean") f.kind = "bool";
    else if (s.type === "integer") f.kind = "integer";
    else if (s.type === "number") f.kind = "number";
    else if (s.type === "string") f.kind = f.suggest || f.enumSource || f.enumMap ? "enum" : s.maxLength && s.maxLength > 500 ? "code" : "string";
    else if (s.type === "array") {
      let it = resolve(s.items, root);
      if (it.anyOf) it = resolve(it.anyOf.find((a: any) => a.type !== "null") ?? {}, root);
      if (it.enum) { f.kind = "multienum"; f.options = it.enum; }
      else if (["number", "integer", "string"].includes(it.type)) { f.kind = "list"; f.itemType = it.type; }
      else if (it.properties) { f.kind = "objects"; f.fields = fieldsOf(it, root); }
    }
    return f;
  });
}

/** Whether a field is shown, given the current values of the object it belongs to. */
export function visible(f: Field, values: Record<string, unknown>): boolean {
  if (!f.showIf) return true;
  return f.showIf.some((c) => Object.entries(c).every(([k, allowed]) => allowed.some((a) => a === values[k])));
}

/** The tabs, in the order their first field appears, "Advanced" last (it also holds the raw JSON). */
export function groupsOf(fields: Field[]): string[] {
  const out: string[] = [];
  for (const f of fields) if (!out.includes(f.group)) out.push(f.group);
  const adv = out.indexOf("Advanced");
  if (adv >= 0 && adv !== out.length - 1) out.push(...out.splice(adv, 1));
  return out;
}

/** The drop-down options of an enum field: its schema enum, its registry list, or the input network's tensors. */
export function optionsFor(f: Field, values: Record<string, unknown>, ctx: InputContext): unknown[] | null {
  if (f.options) return f.options;
  if (f.enumMap && f.enumDepends) return f.enumMap[String(values[f.enumDepends] ?? "")] ?? [];
  if (f.enumSource === "network_inputs") return ctx.network ? ["", ...ctx.network.inputs.map((t) => t.name)] : null;
  if (f.enumSource === "network_outputs") return ctx.network ? ["", ...ctx.network.outputs.map((t) => t.name)] : null;
  return f.suggest ?? null;
}

/** Widgets that hold the value itself; the others hold text that `parse` turns back into a value. */
const DIRECT: FieldKind[] = ["bool", "enum", "columns", "multienum"];

export function toText(v: unknown, f: Field): string {
  if (v === null || v === undefined) return "";
  if (f.kind === "list" && Array.isArray(v)) return v.join(", ");
  if (f.kind === "json") return JSON.stringify(v);
  return String(v);
}

/** The form state of one object: values for direct widgets, text for the others, a list of states for objects. */
export function initValues(fields: Field[], config: Record<string, unknown>): Record<string, any> {
  const v: Record<string, any> = {};
  for (const f of fields) {
    const cur = config && f.name in config ? config[f.name] : f.default;
    if (f.kind === "objects") v[f.name] = (Array.isArray(cur) ? cur : []).map((item) => initValues(f.fields!, item ?? {}));
    else if (f.kind === "object") v[f.name] = initValues(f.fields!, (cur && typeof cur === "object" ? cur : {}) as Record<string, unknown>);
    else v[f.name] = DIRECT.includes(f.kind) ? cur : toText(cur, f);
  }
  return v;
}

/** Parse the form's text back into a value; a string is an error message. Empty means the default. */
export function parse(text: string, f: Field): { value?: unknown; error?: string } {
  const t = text.trim();
  if (t === "" && f.nullable) return { value: null };
  if (t === "" && f.default !== undefined && f.kind !== "string" && f.kind !== "code" && f.kind !== "column") return { value: f.default };
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
      if (t === "") return { value: f.default ?? null };
      try {
        return { value: JSON.parse(t) };
      } catch {
        return { value: t };
      }
    default:
      return { value: text };
  }
}

/** The config from the form state, and the errors keyed by dotted path ("targets.0.loss_weight"). */
export function collect(fields: Field[], values: Record<string, any>, prefix = ""): { config: Record<string, unknown>; errors: Record<string, string> } {
  const config: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const v = values[f.name];
    const path = prefix + f.name;
    if (f.kind === "objects") {
      config[f.name] = (Array.isArray(v) ? v : []).map((item: Record<string, any>, i: number) => {
        const r = collect(f.fields!, item, `${path}.${i}.`);
        Object.assign(errors, r.errors);
        return r.config;
      });
    } else if (f.kind === "object") {
      const r = collect(f.fields!, v ?? {}, `${path}.`);
      Object.assign(errors, r.errors);
      config[f.name] = r.config;
    } else if (DIRECT.includes(f.kind)) config[f.name] = v === undefined ? f.default : v;
    else {
      const p = parse(String(v ?? ""), f);
      if (p.error) errors[path] = p.error;
      else config[f.name] = p.value;
    }
  }
  return { config, errors };
}
