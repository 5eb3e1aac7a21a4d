// The JSON Schema of a selection file (schema/selection.schema.json): the zod
// selection schema, with app_settings and overrides spelled out per app (and
// per role) from the catalog's declarations, so editors validate the file and
// the dashboard can render a settings form from it.
import { z } from "zod";
import type { LoadedApp } from "../manifest/read.js";
import { cmp } from "../manifest/diagnostics.js";
import { overrideSchema, selectionSchema, type SettingDecl } from "../manifest/schema.js";

type Json = Record<string, unknown>;

export function settingJsonSchema(d: SettingDecl): Json {
  const common = { description: d.description, default: d.default };
  switch (d.type) {
    case "boolean":
      return { type: "boolean", ...common };
    case "integer": {
      const range: Json = { type: "integer", ...(d.min !== undefined ? { minimum: d.min } : {}), ...(d.max !== undefined ? { maximum: d.max } : {}) };
      return { ...(d.also ? { anyOf: [{ enum: d.also }, range] } : range), ...common, ...(d.unit ? { "x-unit": d.unit } : {}) };
    }
    case "string":
      return {
        type: "string",
        ...(d.enum ? { enum: d.enum } : {}),
        ...(d.pattern ? { pattern: `^(?:${d.pattern})$` } : {}),
        ...(d.max_length ? { maxLength: d.max_length } : {}),
        ...common,
      };
  }
}

export function selectionJsonSchema(apps: LoadedApp[]): unknown {
  const base = z.toJSONSchema(selectionSchema, { io: "input", unrepresentable: "any" }) as Json & { properties: Record<string, Json> };
  const sorted = [...apps].sort((a, b) => cmp(a.app.id, b.app.id));
  const ids = sorted.map((a) => a.app.id);
  const settingsOf = (a: LoadedApp) => Object.fromEntries(Object.entries(a.app.settings ?? {}).sort((x, y) => cmp(x[0], y[0])).map(([k, d]) => [k, settingJsonSchema(d)]));
  const block = (props: Record<string, Json>, description: string): Json => ({ type: "object", description, additionalProperties: false, properties: props });

  const perApp: Record<string, Json> = {};
  for (const a of sorted) if (a.app.settings) perApp[a.app.id] = block(settingsOf(a), `${a.app.name}'s settings`);
  // A role key follows the selected provider: the union of its providers' settings (the default provider's first).
  const roles = new Map<string, LoadedApp[]>();
  for (const a of sorted) if (a.app.provides && a.app.settings) roles.set(a.app.provides.role, [...(roles.get(a.app.provides.role) ?? []), a]);
  for (const [role, ps] of [...roles].sort((x, y) => cmp(x[0], y[0]))) {
    if (perApp[role]) continue;
    const ordered = [...ps].sort((x, y) => Number(y.app.provides!.default) - Number(x.app.provides!.default));
    const props: Record<string, Json> = {};
    for (const p of ordered) for (const [k, s] of Object.entries(settingsOf(p))) props[k] ??= s;
    perApp[role] = block(Object.fromEntries(Object.entries(props).sort((x, y) => cmp(x[0], y[0]))), `settings of the selected "${role}" provider (${ps.map((p) => p.app.id).join(", ")}); each accepts only its own`);
  }

  const override = z.toJSONSchema(overrideSchema, { io: "input" }) as Json;
  delete override.$schema;
  const perContainer: Record<string, Json> = {};
  for (const a of sorted) perContainer[a.app.id] = block(Object.fromEntries(Object.keys(a.app.containers).sort(cmp).map((k) => [k, override])), `${a.app.name}: container → overrides`);

  const props = base.properties;
  props.apps = { ...props.apps, items: { type: "string", enum: ids } };
  props.app_settings = { ...block(perApp, String(props.app_settings?.description ?? "")) };
  props.overrides = { ...block(perContainer, String(props.overrides?.description ?? "")) };
  return { ...base, title: "archy-quadlet selection" };
}
