// Settings (docs/settings.md): every selected app's declared settings resolved to
// a value and where it came from — the declaration's default, the selection's
// `app_settings` (keyed by app id or by role), or a dependent's
// `requires_settings` — plus the checks that tie them together. Pure.
import type { Graph } from "../graph/graph.js";
import type { LoadedApp, Locate } from "../manifest/read.js";
import type { SettingDecl, SettingValue } from "../manifest/schema.js";
import { cmp, type Diagnostic } from "../manifest/diagnostics.js";

export type Origin =
  | { kind: "default" }
  /** `key` is the app_settings key as written: the app id or a role. */
  | { kind: "selection"; file: string; key: string; line?: number; col?: number }
  | { kind: "required"; by: string; file: string; line?: number; col?: number };

export interface ResolvedSetting {
  app: string;
  key: string;
  decl: SettingDecl;
  value: SettingValue;
  origin: Origin;
}

/** app id → setting name → resolved setting, for the selected apps. */
export type Settings = Map<string, Map<string, ResolvedSetting>>;

/** How a value is shown in messages and `settings`: strings quoted, the rest plain. */
export function show(v: SettingValue): string {
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

/** Why `v` is not a valid value of `d`, or undefined when it is. */
export function checkValue(d: SettingDecl, v: unknown): string | undefined {
  switch (d.type) {
    case "boolean":
      return typeof v === "boolean" ? undefined : `expected boolean, got ${kindOf(v)}`;
    case "integer": {
      if (typeof v !== "number" || !Number.isInteger(v)) return `expected integer, got ${typeof v === "number" ? show(v) : kindOf(v)}`;
      if (d.also?.includes(v)) return undefined;
      const range = rangeText(d);
      if ((d.min !== undefined && v < d.min) || (d.max !== undefined && v > d.max)) return `${v} is out of range: ${range}`;
      return undefined;
    }
    case "string": {
      if (typeof v !== "string") return `expected string, got ${kindOf(v)}`;
      if (/[\n\r\0]/.test(v)) return "must not contain a newline, carriage return or NUL character";
      if (d.enum && !d.enum.includes(v)) return `expected one of ${d.enum.map((e) => JSON.stringify(e)).join(", ")}, got ${show(v)}`;
      if (d.max_length !== undefined && [...v].length > d.max_length) return `must be at most ${d.max_length} characters`;
      if (d.pattern !== undefined && !new RegExp(`^(?:${d.pattern})$`, "u").test(v)) return `${show(v)} does not match ${d.pattern}`;
      return undefined;
    }
  }
}

/** "550..1000000 MiB, or 0" — the accepted values of an integer setting. */
export function rangeText(d: SettingDecl & { type: "integer" }): string {
  const unit = d.unit ? ` ${d.unit}` : "";
  const r = d.min !== undefined && d.max !== undefined ? `${d.min}..${d.max}` : d.min !== undefined ? `at least ${d.min}` : d.max !== undefined ? `at most ${d.max}` : "any integer";
  return `${r}${unit}${d.also ? `, or ${d.also.join(", ")}` : ""}`;
}

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "list";
  return typeof v === "object" ? "mapping" : typeof v;
}

/** Where a located diagnostic points, as text: `file:line:col`. */
function at(file: string, pos: { line: number; col: number } | undefined): string {
  return pos ? `${file}:${pos.line}:${pos.col}` : file;
}

/**
 * Resolve the settings of the graph's apps. `all` is the whole catalog (to tell
 * an unselected app from an unknown one); `locate` finds positions in the
 * selection file `select`.
 */
export function resolveSettings(g: Graph, all: LoadedApp[], select: string | undefined, locate: Locate | undefined, diags: Diagnostic[]): Settings {
  const settings: Settings = new Map();
  const selFile = select ?? "selection";
  const ids = new Set(g.apps.map((a) => a.app.id));

  // Declarations: defaults must be valid, targets must exist.
  for (const a of g.apps) {
    const own = new Map<string, ResolvedSetting>();
    for (const [key, decl] of Object.entries(a.app.settings ?? {}).sort((x, y) => cmp(x[0], y[0]))) {
      const where = { file: a.file, path: `settings.${key}` };
      const bad = checkValue(decl, decl.default);
      if (bad) diags.push({ ...where, path: `${where.path}.default`, message: `default: ${bad}` });
      for (const c of decl.to.containers ?? []) {
        if (!(c in a.app.containers)) diags.push({ ...where, path: `${where.path}.to.containers`, message: `no container "${c}" in app "${a.app.id}"` });
      }
      const kind = decl.to.config;
      if (kind && !Object.values(a.app.containers).some((c) => c.configs?.some((e) => e.kind === kind))) {
        diags.push({ ...where, path: `${where.path}.to.config`, message: `no container of app "${a.app.id}" consumes ${kind}` });
      }
      if (decl.to.env !== undefined) {
        for (const [ck, c] of Object.entries(a.app.containers)) {
          const have = c.environment?.[decl.to.env];
          if ((decl.to.containers ?? [ck]).includes(ck) && have !== undefined && have !== formatValue(decl.default, "env")) {
            diags.push({ ...where, path: `${where.path}.default`, message: `default ${show(decl.default)} differs from containers.${ck}.environment.${decl.to.env} (${JSON.stringify(have)}): at its default a setting leaves the manifest's value` });
          }
        }
      }
      if (decl.to.arg !== undefined) {
        for (const [ck, c] of Object.entries(a.app.containers)) {
          if ((decl.to.containers ?? [ck]).includes(ck) && !c.command) {
            diags.push({ ...where, path: `${where.path}.to.arg`, message: `container "${ck}" has no \`command\`: an appended argument would replace the image's default command` });
          }
        }
      }
      own.set(key, { app: a.app.id, key, decl, value: decl.default, origin: { kind: "default" } });
    }
    settings.set(a.app.id, own);
  }

  // The selection's values, by app id or by role.
  const chosen = g.selection?.app_settings ?? {};
  for (const [k, values] of Object.entries(chosen).sort((x, y) => cmp(x[0], y[0]))) {
    const target = ids.has(k) ? k : g.roles.get(k);
    if (!target) {
      const known = all.some((a) => a.app.id === k || a.app.provides?.role === k);
      diags.push({
        file: selFile,
        path: `app_settings.${k}`,
        message: known ? `"${k}" is not in this selection (add it to \`apps\`, or remove its settings)` : `no app or role "${k}" exists`,
      });
      continue;
    }
    const own = settings.get(target)!;
    for (const [key, v] of Object.entries(values)) {
      const path = `app_settings.${k}.${key}`;
      const s = own.get(key);
      if (!s) {
        const names = [...own.keys()];
        const via = target === k ? `"${k}"` : `"${target}" (the selected "${k}" provider)`;
        diags.push({ file: selFile, path, message: `${via} has no setting "${key}"${names.length ? `; its settings: ${names.join(", ")}` : ""}` });
        continue;
      }
      const bad = checkValue(s.decl, v);
      if (bad) {
        diags.push({ file: selFile, ...locate?.(path, "value"), path, message: bad });
        continue;
      }
      if (s.origin.kind === "selection") {
        diags.push({ file: selFile, path, message: `"${key}" of "${target}" is already set under app_settings.${s.origin.key}` });
        continue;
      }
      s.value = v;
      s.origin = { kind: "selection", file: selFile, key: k, ...locate?.(path, "value") };
    }
  }

  // Rules across apps: a dependent's requires_settings on its provider.
  for (const a of g.apps) {
    for (const { id, key: depKey, dep } of g.appDeps.get(a.app.id) ?? []) {
      for (const [key, want] of Object.entries(dep.requires_settings ?? {}).sort((x, y) => cmp(x[0], y[0]))) {
        const rpath = `dependencies.${depKey}.requires_settings.${key}`;
        // Positions re-parse the manifest (read.ts locateLater): only when one is shown.
        const rpos = () => a.locate?.(rpath, "value");
        const s = settings.get(id)?.get(key);
        if (!s) {
          diags.push({ file: a.file, path: rpath, message: `"${id}" (the "${depKey}" this app depends on) has no setting "${key}"` });
          continue;
        }
        const bad = checkValue(s.decl, want);
        if (bad) {
          diags.push({ file: a.file, path: rpath, message: `not a valid value of "${id}"'s setting "${key}": ${bad}` });
          continue;
        }
        if (s.value === want) continue;
        const requirement = () => `${a.app.id} (${at(a.file, rpos())} requires ${depKey} ${key}: ${show(want)})`;
        if (s.origin.kind === "selection") {
          const path = `app_settings.${s.origin.key}.${key}`;
          diags.push({ file: s.origin.file, ...(s.origin.line !== undefined ? { line: s.origin.line, col: s.origin.col } : {}), path, message: `${show(s.value)} conflicts with ${requirement()}` });
        } else if (s.origin.kind === "required") {
          diags.push({ file: a.file, path: rpath, message: `${show(want)} conflicts with ${s.origin.by} (${at(s.origin.file, s.origin.line !== undefined ? { line: s.origin.line, col: s.origin.col! } : undefined)} requires ${key}: ${show(s.value)})` });
        } else {
          s.value = want;
          s.origin = { kind: "required", by: a.app.id, file: a.file, ...rpos() };
        }
      }
    }
  }
  return settings;
}

/** The value as a config file / environment variable / argument spells it. */
export function formatValue(v: SettingValue, where: "config" | "env"): string {
  if (typeof v === "boolean") return where === "config" ? (v ? "1" : "0") : v ? "true" : "false";
  return String(v);
}

/**
 * What a derived config's template sees of an app's settings: `settings.<name>`
 * for every setting aimed at that config, and `options`, the `<option>=<value>`
 * lines of those with `option` that the selection or a dependent set.
 */
export function configSettings(s: Settings, appId: string, kind: string): { settings: Record<string, string>; options: { name: string; value: string }[] } {
  const values: Record<string, string> = {};
  const options: { name: string; value: string }[] = [];
  for (const r of s.get(appId)?.values() ?? []) {
    if (r.decl.to.config !== kind) continue;
    const v = formatValue(r.value, "config");
    if (r.decl.to.option === undefined) values[r.key] = v;
    else if (r.origin.kind !== "default") options.push({ name: r.decl.to.option, value: v });
  }
  return { settings: values, options };
}

/** A setting's value, when the app declares it. */
export function settingValue(s: Settings | undefined, appId: string | undefined, key: string): SettingValue | undefined {
  return appId === undefined ? undefined : s?.get(appId)?.get(key)?.value;
}
