// What `archy-quadlet settings` shows: every setting of the selected apps with
// its type, accepted values, default, current value and where that comes from.
import type { Graph } from "../graph/graph.js";
import { cmp } from "../manifest/diagnostics.js";
import type { SettingValue } from "../manifest/schema.js";
import { rangeText, show, type ResolvedSetting } from "./resolve.js";

export interface SettingRow {
  app: string;
  /** The role the app provides: app_settings may be keyed by it. */
  role?: string;
  key: string;
  type: "boolean" | "integer" | "string";
  description: string;
  /** Accepted values in words: "550..10000000 MiB, or 0", "one of …", "any". */
  accepts: string;
  unit?: string;
  default: SettingValue;
  value: SettingValue;
  origin: "default" | "selection" | "required";
  /** default / file:line:col of the selection value / required by APP (file:line:col). */
  from: string;
  /** Where the value goes: "bitcoin.conf", "bitcoin.conf dbcache=", "env CACHE_MB", "arg --x={value}". */
  to: string;
}

const pos = (file: string, line?: number, col?: number) => (line !== undefined ? `${file}:${line}:${col ?? 1}` : file);

export function settingRows(g: Graph): SettingRow[] {
  const rows: SettingRow[] = [];
  for (const [app, byKey] of [...(g.settings ?? new Map<string, Map<string, ResolvedSetting>>())].sort((a, b) => cmp(a[0], b[0]))) {
    const role = g.apps.find((a) => a.app.id === app)?.app.provides?.role;
    for (const r of [...byKey.values()].sort((a, b) => cmp(a.key, b.key))) {
      const d = r.decl;
      const accepts =
        d.type === "boolean" ? "true or false" : d.type === "integer" ? rangeText(d) : d.enum ? `one of ${d.enum.map((e) => JSON.stringify(e)).join(", ")}` : [d.pattern ? `matching ${d.pattern}` : "", d.max_length ? `at most ${d.max_length} characters` : ""].filter(Boolean).join(", ") || "any text";
      const o = r.origin;
      const from = o.kind === "default" ? "default" : o.kind === "selection" ? pos(o.file, o.line, o.col) : `required by ${o.by} (${pos(o.file, o.line, o.col)})`;
      const to = d.to.config !== undefined ? (d.to.option ? `${d.to.config} ${d.to.option}=` : d.to.config) : d.to.env !== undefined ? `env ${d.to.env}` : `arg ${d.to.arg}`;
      rows.push({
        app,
        ...(role ? { role } : {}),
        key: r.key,
        type: d.type,
        description: d.description,
        accepts,
        ...(d.type === "integer" && d.unit ? { unit: d.unit } : {}),
        default: d.default,
        value: r.value,
        origin: o.kind,
        from,
        to,
      });
    }
  }
  return rows;
}

/** The text form: one block per app, aligned columns. */
export function formatSettings(rows: SettingRow[]): string {
  if (rows.length === 0) return "no settings: none of the selected apps declares any";
  const out: string[] = [];
  const width = (f: (r: SettingRow) => string) => Math.max(...rows.map((r) => f(r).length));
  const kw = width((r) => r.key);
  const vw = width((r) => show(r.value));
  let app = "";
  for (const r of rows) {
    if (r.app !== app) {
      if (app) out.push("");
      out.push(`${r.app}${r.role ? ` (role ${r.role})` : ""}`);
      app = r.app;
    }
    const changed = r.origin === "default" ? "" : ` (default ${show(r.default)})`;
    out.push(`  ${r.key.padEnd(kw)}  ${show(r.value).padEnd(vw)}  ${r.from}${changed}`);
    out.push(`  ${"".padEnd(kw)}  ${r.type}, ${r.accepts} → ${r.to}: ${r.description}`);
  }
  return out.join("\n");
}
