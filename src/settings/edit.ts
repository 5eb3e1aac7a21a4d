// Changing a selection file's settings programmatically (the adopt command
// carries an existing node's bitcoin.conf values into app_settings; the
// dashboard may do the same): a YAML edit that keeps comments, order and
// everything else in the file, refusing a value the setting does not accept.
import { parseDocument } from "yaml";
import type { LoadedApp } from "../manifest/read.js";
import type { SettingValue } from "../manifest/schema.js";
import { checkValue } from "./resolve.js";

export type SetResult = { ok: true; text: string } | { ok: false; message: string };

/**
 * Set `app_settings.<appKey>.<name>: value` in the selection text (appKey: an app
 * id or a role). With `apps` (the catalog), the value is checked against the
 * declaration of that app (for a role: of every provider that declares `name`,
 * at least one must be selected in the file's `apps`).
 */
export function setAppSetting(text: string, appKey: string, name: string, value: SettingValue, apps?: LoadedApp[]): SetResult {
  const doc = parseDocument(text, { version: "1.2", uniqueKeys: true });
  if (doc.errors.length > 0) return { ok: false, message: `the selection is not valid YAML: ${doc.errors[0]!.message.split("\n")[0]}` };
  if (apps) {
    const selected = new Set(((doc.toJS() as { apps?: unknown } | null)?.apps as string[] | undefined) ?? []);
    const candidates = apps.filter((a) => a.app.id === appKey || (a.app.provides?.role === appKey && selected.has(a.app.id)));
    if (candidates.length === 0) return { ok: false, message: `no app "${appKey}" (or selected provider of role "${appKey}") in the catalog` };
    const decls = candidates.map((a) => a.app.settings?.[name]).filter((d) => d !== undefined);
    if (decls.length === 0) return { ok: false, message: `"${candidates.map((a) => a.app.id).join('", "')}" has no setting "${name}"` };
    for (const d of decls) {
      const bad = checkValue(d, value);
      if (bad) return { ok: false, message: `app_settings.${appKey}.${name}: ${bad}` };
    }
  }
  doc.setIn(["app_settings", appKey, name], value);
  return { ok: true, text: doc.toString() };
}

/** Remove `app_settings.<appKey>.<name>` (back to the default); empty mappings go too. */
export function unsetAppSetting(text: string, appKey: string, name: string): string {
  const doc = parseDocument(text, { version: "1.2", uniqueKeys: true });
  doc.deleteIn(["app_settings", appKey, name]);
  const own = doc.getIn(["app_settings", appKey]) as { items?: unknown[] } | undefined;
  if (own?.items?.length === 0) doc.deleteIn(["app_settings", appKey]);
  const all = doc.getIn(["app_settings"]) as { items?: unknown[] } | undefined;
  if (all?.items?.length === 0) doc.delete("app_settings");
  return doc.toString();
}
