// `archy-quadlet settings`: every setting of the selected apps (docs/settings.md);
// `archy-quadlet schema --selection`: the selection file's JSON Schema.
import { compileOrExit, type CommonOpts } from "./compile-cmds.js";
import { out, reportDiagnostics } from "./io.js";
import { formatSettings, settingRows } from "../settings/report.js";
import { readManifestDir } from "../manifest/read.js";
import { selectionJsonSchema } from "../settings/json-schema.js";
import type { Diagnostic } from "../manifest/diagnostics.js";

export function settingsCmd(o: CommonOpts): void {
  const r = compileOrExit(o);
  const rows = settingRows(r.graph!);
  if (o.json) out(JSON.stringify({ ok: true, select: o.select ?? null, settings: rows }, null, 2));
  else out(formatSettings(rows));
}

export function selectionSchemaCmd(o: { manifests: string }): void {
  const diags: Diagnostic[] = [];
  const apps = readManifestDir(o.manifests, diags);
  if (diags.length > 0) reportDiagnostics(diags);
  out(JSON.stringify(selectionJsonSchema(apps), null, 2));
}
