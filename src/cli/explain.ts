// explain APP: compile, run the real quadlet in dry-run mode on the app's units
// (the I/O), build the report (src/plan/explain.ts, pure) and print it.
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { defaultAdapter, type SystemAdapter } from "../apply/adapter.js";
import { UNIT_DIR, type OutputFile } from "../lower/lower.js";
import { Failure } from "../outcome.js";
import { explainReport, explainUnits, type ExplainReport, type QuadletView } from "../plan/explain.js";
import { redact } from "../plan/tree.js";
import { argvGroups, execArgv } from "../unit/exec.js";
import { quadletBin, quadletDryRun } from "../unit/quadlet.js";
import { unitValues } from "../unit/unitfile.js";
import { compileOrExit, type CommonOpts } from "./compile-cmds.js";
import { findDropIns } from "../settings/dropins.js";
import { err, out } from "./io.js";

export type { ExplainReport } from "../plan/explain.js";

export interface ExplainOpts extends CommonOpts {
  quadlet?: string;
}

export async function explainCmd(appId: string, o: ExplainOpts, adapter: SystemAdapter = defaultAdapter()): Promise<void> {
  const r = compileOrExit(o);
  const g = r.graph!;
  if (!g.apps.some((a) => a.app.id === appId)) {
    const known = g.apps.map((a) => a.app.id).join(", ");
    throw new Failure("invalid", `error: no app "${appId}" ${o.select ? `in the selection ${o.select}` : "in the catalog"} (known: ${known})`);
  }
  // Only this app's units (and the network they join): another app's problem is not this one's.
  const q = await dryRun(explainUnits(g, appId, r.files), quadletBin(o.quadlet), adapter, r.secrets.values());
  // Hand-written drop-ins on this machine (the node, when run there) next to the generated units.
  const report = explainReport(appId, g, r.files, r.derived!.containers, q, findDropIns("/", g.containers.filter((c) => c.app.id === appId).map((c) => c.name)));
  if (report.quadlet.status !== "ok") err(`warning: ${report.quadlet.message}`);
  if (o.json) out(JSON.stringify(report, null, 2));
  else out(formatExplain(report));
  if (report.quadlet.status === "failed") throw new Failure("failed");
}

/** Write the units to a temp dir and run `quadlet -dryrun` on them through the adapter. */
async function dryRun(files: OutputFile[], bin: string, adapter: SystemAdapter, secretValues: readonly string[]): Promise<QuadletView> {
  const argv = new Map<string, string[]>();
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    return { status: "missing", bin, message: `quadlet not found at ${bin}: the podman argv cannot be shown (install Podman >= 4.4, pass --quadlet PATH or set QUADLET_BIN)`, argv };
  }
  const tmp = mkdtempSync(join(tmpdir(), "archy-explain-"));
  try {
    for (const f of files) {
      if (!f.path.startsWith(`${UNIT_DIR}/`)) continue;
      const abs = join(tmp, f.path);
      mkdirSync(dirname(abs), { recursive: true });
      writeFileSync(abs, f.content);
    }
    const r = await quadletDryRun(adapter, bin, join(tmp, dirname(UNIT_DIR)));
    if (r.code === 127) return { status: "missing", bin, message: `quadlet could not be run at ${bin}: ${r.stderr.trim()}`, argv };
    const problems = [...r.errors];
    for (const [service, text] of r.services) {
      const line = unitValues(text, "Service", "ExecStart")[0];
      if (line === undefined) continue;
      try {
        argv.set(service, execArgv(line).map((w) => redact(w, secretValues)));
      } catch (e) {
        problems.push(`${service}: ExecStart= cannot be parsed: ${(e as Error).message}`);
      }
    }
    if (r.code !== 0 || problems.length > 0) {
      return { status: "failed", bin, message: `quadlet -dryrun exited ${r.code}${problems.length ? `:\n${problems.join("\n")}` : ""}`, argv };
    }
    return { status: "ok", bin, message: null, argv };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** POSIX-shell quoting for display: a word that needs it goes in single quotes. */
export function shellQuote(w: string): string {
  if (w !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(w)) return w;
  return `'${w.replace(/'/g, `'\\''`)}'`;
}

/** An argv as a copy-pasteable command: one option per line, image and command last. */
export function formatArgv(argv: string[], image: string, indent: string): string {
  const g = argvGroups(argv, image);
  const lines = [g.head, ...g.options, ...(g.tail.length ? [g.tail] : [])];
  return lines.map((l, i) => `${i === 0 ? "" : `${indent}  `}${l.map(shellQuote).join(" ")}`).join(" \\\n");
}

export function formatExplain(r: ExplainReport): string {
  const o: string[] = [];
  const a = r.app;
  o.push(`${a.id}: ${a.name} ${a.version} (${a.kind}${a.provides ? `, provides role ${a.provides}` : ""}) from ${a.manifest}`);
  o.push(`  ${a.description}`);
  if (r.quadlet.status !== "ok") o.push("", `note: ${r.quadlet.message}`);

  o.push("", "Containers");
  for (const c of r.containers) {
    o.push(`  ${c.name}  (${c.service}, unit ${c.unit})`);
    o.push(`    image ${c.image}${c.build ? ` (built locally by ${c.build.service})` : ""}`);
    if (c.healthcheck) o.push(`    healthcheck: yes${c.healthGated ? "; health-gated: the unit reports started only once healthy (Notify=healthy), because others wait for it" : ""}`);
    if (c.build) {
      o.push(`    build context ${c.build.context}: ${c.build.files.join(", ")}`);
      if (c.build.argv) o.push(`    podman build (from quadlet -dryrun; options sorted):`, `      ${formatArgv(c.build.argv, c.build.argv[c.build.argv.length - 1]!, "      ")}`);
    }
    if (c.argv) o.push(`    podman run (from quadlet -dryrun; options sorted):`, `      ${formatArgv(c.argv, c.image, "      ")}`);
    else o.push(`    podman run: unavailable (${r.quadlet.status === "missing" ? "quadlet not found" : "quadlet failed"})`);
    for (const v of c.overrides) o.push(`    ${v.field} ${v.value} (override, ${v.from})`);
    for (const d of c.dropIns) o.push(`    WARNING: hand-written drop-in ${d} changes this unit outside archy-quadlet (move it into the selection's overrides)`);
  }

  o.push("", "Dependencies");
  // `as` names the depended-on app (or its role) as the dependent's manifest writes it.
  const dep = (d: { app: string; as: string; condition: string; optional: boolean; containers: string[] | null }, owner: string, target: string) =>
    `${d.app}${d.as !== target ? ` (via role ${d.as})` : ""}  ${d.condition === "healthy" ? "healthy: waits until it reports healthy" : "started: ordering only"}${d.optional ? "; optional (Wants=)" : "; required (Wants= + a start gate: is-active)"}${d.containers ? `; only for ${owner} ${d.containers.join(", ")}` : ""}`;
  o.push(`  requires:${r.dependencies.requires.length ? "" : " nothing"}`);
  for (const d of r.dependencies.requires) o.push(`    ${dep(d, "container", d.app)}`);
  o.push(`  required by:${r.dependencies.requiredBy.length ? "" : " nothing"}`);
  for (const d of r.dependencies.requiredBy) o.push(`    ${dep(d, `${d.app}'s`, a.id)}`);
  const inner = r.containers.flatMap((c) => c.dependsOn.filter((d) => d.via.startsWith("containers.")).map((d) => ({ from: c.name, ...d })));
  if (inner.length) {
    o.push("  inside the app:");
    for (const d of inner) o.push(`    ${d.from} → ${d.container}  ${d.condition === "healthy" ? "healthy" : "started"}${d.optional ? ", optional" : ""}`);
  }
  o.push(`  start order: ${r.dependencies.startOrder.join(" → ")}`);
  o.push("  stopping or restarting it stops or restarts nothing else (Wants=, not Requires=; a dependent waits for it when the dependent starts)");

  o.push("", "Derived files");
  const files = r.containers.flatMap((c) => c.files.map((f) => ({ c: c.name, ...f })));
  if (files.length === 0) o.push("  none");
  for (const f of files) {
    o.push(`  ${f.path} → ${f.envFile ? `${f.c} (environment file)` : `${f.c}:${f.mount} (read-only bind mount)`}${f.secret ? " [secret, 0600]" : ""}`);
    o.push(`    content depends on: ${f.inputs.join("; ")}`);
  }

  o.push("", "Data");
  const data = r.containers.flatMap((c) => c.data.map((d) => ({ c: c.name, ...d })));
  if (data.length === 0) o.push("  none");
  for (const d of data) {
    const where = d.volume ? `podman volume ${d.volume} (${d.host})` : d.host;
    o.push(`  ${d.c}:${d.target} ← ${where}${d.readOnly ? " [read-only]" : ""}${d.app !== r.app.id ? ` [${d.app}'s ${d.source}]` : ""}${d.adopted ? " [adopted: storage mapping, used in place]" : ""}`);
  }

  if (r.onion) {
    o.push("", "Onion services");
    o.push(`  ${r.onion.note}`);
    for (const s of r.onion.services) o.push(`    ${s.name}: ${s.container}:${s.port} → <onion>:${s.virtualPort}${s.hiddenServiceDir ? ` (HiddenServiceDir ${s.hiddenServiceDir})` : ""}`);
  }

  o.push("", "Restarts when");
  for (const c of r.containers) {
    o.push(`  ${c.service}:`);
    for (const t of c.restartOn) o.push(`    - ${t.what}: ${t.detail}`);
  }
  o.push(`  never restarted by: ${r.notRestartedBy.join("; ")}`);
  return o.join("\n");
}
