// status: what is running on a node, per app and container, against the
// current generation. Read-only: one `systemctl show` and one
// `podman container inspect` for all units, both through the command adapter.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { findDropIns } from "../settings/dropins.js";
import { join, relative, resolve } from "node:path";
import { defaultAdapter, type SystemAdapter } from "../apply/adapter.js";
import { currentId, genDir, readGeneration, readMeta, statePaths, type GenMeta } from "../apply/state.js";
import { keptImageSpace } from "../apply/images.js";
import { diskReport, formatSize, recordedMinFree } from "../apply/disk.js";
import { readMarker, type Marker } from "../hooks/ota.js";
import { UNIT_DIR } from "../lower/lower.js";
import { cmp } from "../manifest/diagnostics.js";
import { Failure } from "../outcome.js";
import { out } from "./io.js";
import { scbStatus, type ScbStatus } from "../backup/scb.js";
import { BACKUP_SERVICE } from "../lower/backup-units.js";
import { SYSTEM_UNIT_DIR } from "../lower/paths.js";

export type Health = "healthy" | "unhealthy" | "starting" | "none" | "unknown";
/** ok: running (and healthy if it has a check); starting: running, health check not passed yet; down: anything else. */
export type Verdict = "ok" | "starting" | "down";

export interface ContainerStatus {
  name: string;
  service: string;
  unit: string;
  /** The unit file is in the current generation and visible at its path under the root. */
  unitPresent: boolean;
  loadState: string;
  activeState: string;
  subState: string;
  /** systemd's NRestarts: automatic restarts since the unit was last started by hand or by apply. */
  restarts: number | null;
  container: { state: string; exitCode: number | null; startedAt: string | null };
  health: Health;
  status: Verdict;
  problems: string[];
  /** Hand-written drop-ins that change this generated unit or its service (src/settings/dropins.ts). */
  dropIns: string[];
  /** Where its volumes' data lives (the unit's Volume= lines, derived configs left out); adopted: a selection `storage:` mapping (docs/adopt.md). */
  data: { target: string; host: string; volume: string | null; readOnly: boolean; adopted: boolean }[];
}

export interface StatusReport {
  ok: boolean;
  generation: {
    id: number;
    state: string;
    time: string | null;
    manifestHash: string | null;
    note: string | null;
    /** The OTA marker, when a release awaits verification (or failed it and awaits a human). */
    ota: (Pick<Marker, "release" | "fallback" | "time" | "attempts" | "rolledBack"> & { evidence: string | null }) | { corrupt: string } | null;
  } | null;
  apps: { id: string; version: string | null; manifest: string | null; status: Verdict; containers: ContainerStatus[] }[];
  down: string[];
  /** With lnd installed: the newest channel-backup copy (src/backup/scb.ts); null otherwise. */
  lndBackup: ScbStatus | null;
  /** Disk space the kept generations' images hold (podman images); null when podman cannot say. */
  images: { bytes: number; images: number; missing: string[] } | null;
  /** The disk guard's file systems (Podman's graph root, app data) below the selection's min_free_disk (src/apply/disk.ts). */
  disk: { required: number; low: { paths: { path: string; what: string }[]; free: number }[] };
}

/** lnd's channel.backup and the backup dir, as the generation's backup service names them. */
function lndBackupStatus(root: string, id: number): ScbStatus | undefined {
  let text: string;
  try {
    text = readFileSync(join(genDir(root, id), SYSTEM_UNIT_DIR, BACKUP_SERVICE), "utf8");
  } catch {
    return undefined;
  }
  const arg = (k: string) => new RegExp(`--${k} (\\S+)`).exec(text)?.[1];
  const [source, dest] = [arg("source"), arg("dest")];
  if (!source || !dest) return undefined;
  const s = scbStatus(join(root, source), join(root, dest));
  return { ...s, source, dest, newest: s.newest && join("/", relative(root, s.newest)) };
}

interface UnitInfo {
  name: string;
  app: string;
  version: string | null;
  manifest: string | null;
  health: boolean;
  volumes: { source: string; target: string; readOnly: boolean }[];
}

/** The selection's storage mapping as the last apply recorded it (inputs.json → the selection file): mapped paths and volume names. */
async function adoptedSources(root: string): Promise<Set<string>> {
  try {
    const inputs = JSON.parse(readFileSync(statePaths(root).inputs, "utf8")) as { select?: string };
    if (!inputs.select) return new Set();
    const { parse } = await import("yaml");
    const sel = parse(readFileSync(inputs.select, "utf8")) as { storage?: Record<string, Record<string, unknown> | null> } | null;
    return new Set(Object.values(sel?.storage ?? {}).flatMap((s) => Object.values(s ?? {}).map((v) => String(v).replace(/^volume:/, ""))));
  } catch {
    return new Set();
  }
}

/** The container units of the current generation, read from its unit files (no secrets touched). */
function generationUnits(root: string, id: number): UnitInfo[] {
  const dir = join(genDir(root, id), UNIT_DIR);
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".container"));
  } catch {
    return [];
  }
  return names.map((file) => {
    const text = readFileSync(join(dir, file), "utf8");
    const value = (re: RegExp) => re.exec(text)?.[1] ?? null;
    return {
      name: value(/^ContainerName=(.+)$/m) ?? file.replace(/\.container$/, ""),
      app: value(/^Label=archy\.app=(.+)$/m) ?? "?",
      version: value(/^Label=archy\.version=(.+)$/m),
      manifest: value(/^# Generated by archy-quadlet from (\S+)/m),
      health: /^HealthCmd=/m.test(text),
      volumes: [...text.matchAll(/^Volume=(.+):(\/[^:]*):(rw|ro)$/gm)]
        .filter((m) => !m[1]!.startsWith("/etc/archy/"))
        .map((m) => ({ source: m[1]!, target: m[2]!, readOnly: m[3] === "ro" })),
    };
  }).sort((a, b) => cmp(a.name, b.name));
}

/** `systemctl show` output for several units: blocks separated by blank lines, keyed by Id. */
export function parseSystemctlShow(stdout: string): Map<string, Record<string, string>> {
  const units = new Map<string, Record<string, string>>();
  for (const block of stdout.split(/\n\s*\n/)) {
    const props: Record<string, string> = {};
    for (const l of block.split("\n")) {
      const eq = l.indexOf("=");
      if (eq > 0) props[l.slice(0, eq)] = l.slice(eq + 1);
    }
    if (props.Id) units.set(props.Id, props);
  }
  return units;
}

interface Inspected {
  state: string;
  exitCode: number | null;
  startedAt: string | null;
  health: string | null;
}

/** `podman container inspect --format json a b c`: an array for the containers that exist (missing ones are errors on stderr). */
export function parseInspect(stdout: string): Map<string, Inspected> | undefined {
  let data: unknown;
  try {
    data = JSON.parse(stdout.trim() || "[]");
  } catch {
    return undefined;
  }
  if (!Array.isArray(data)) return undefined;
  const m = new Map<string, Inspected>();
  for (const c of data as Record<string, any>[]) {
    const name = String(c?.Name ?? "").replace(/^\//, "");
    if (!name) continue;
    const st = (c.State ?? {}) as Record<string, any>;
    const health = (st.Health ?? st.Healthcheck)?.Status;
    m.set(name, {
      state: String(st.Status ?? "unknown"),
      exitCode: typeof st.ExitCode === "number" ? st.ExitCode : null,
      startedAt: typeof st.StartedAt === "string" ? st.StartedAt : null,
      health: typeof health === "string" && health !== "" ? health : null,
    });
  }
  return m;
}

export async function nodeStatus(rootArg: string, adapter: SystemAdapter, freeBytes?: (path: string) => number): Promise<StatusReport> {
  const root = resolve(rootArg);
  const id = currentId(root);
  if (id === undefined) return { ok: false, generation: null, apps: [], down: [], lndBackup: null, images: null, disk: { required: 0, low: [] } };
  const meta: GenMeta | undefined = readMeta(root, id);
  const marker = readMarker(root);
  const ota: NonNullable<StatusReport["generation"]>["ota"] =
    marker.kind === "ok"
      ? { release: marker.marker.release, fallback: marker.marker.fallback, time: marker.marker.time, attempts: marker.marker.attempts, rolledBack: marker.marker.rolledBack, evidence: marker.marker.evidence ?? null }
      : marker.kind === "corrupt"
        ? { corrupt: marker.why }
        : null;
  const units = generationUnits(root, id);
  const services = units.map((u) => `${u.name}.service`);
  const dropIns = findDropIns(root, units.map((u) => u.name));
  const adopted = units.some((u) => u.volumes.length) ? await adoptedSources(root) : new Set<string>();

  let show = new Map<string, Record<string, string>>();
  let showError: string | undefined;
  let inspected: Map<string, Inspected> | undefined = new Map();
  let inspectError: string | undefined;
  if (units.length > 0) {
    const s = await adapter.run("systemctl", ["show", "--no-pager", "-p", "Id,LoadState,ActiveState,SubState,NRestarts", ...services], { timeoutMs: 30_000 });
    if (s.code === 0) show = parseSystemctlShow(s.stdout);
    else showError = `systemctl show failed (exit ${s.code}): ${s.stderr.trim().split("\n")[0] ?? ""}`;
    // Exit 125 with the found containers on stdout when some do not exist: still usable.
    const p = await adapter.run("podman", ["container", "inspect", "--format", "json", ...units.map((u) => u.name)], { timeoutMs: 60_000 });
    inspected = parseInspect(p.stdout);
    if (!inspected) inspectError = `podman container inspect failed (exit ${p.code}): ${p.stderr.trim().split("\n")[0] ?? ""}`;
  }

  const containers = units.map((u): ContainerStatus & { app: string; version: string | null; manifest: string | null } => {
    const service = `${u.name}.service`;
    const unit = `/${UNIT_DIR}/${u.name}.container`;
    const props = show.get(service);
    const c = inspected?.get(u.name);
    const problems: string[] = [];
    const unitPresent = existsSync(join(root, unit));
    if (!unitPresent) problems.push(`unit not visible at ${unit} (stable link missing: run archy-quadlet apply)`);
    const loadState = props?.LoadState ?? "unknown";
    const activeState = props?.ActiveState ?? "unknown";
    const subState = props?.SubState ?? "unknown";
    const nr = props?.NRestarts !== undefined && /^\d+$/.test(props.NRestarts) ? Number(props.NRestarts) : null;
    if (showError) problems.push(showError);
    else if (loadState !== "loaded") problems.push(`systemd has no ${service} (LoadState=${loadState}: daemon-reload needed?)`);
    else if (activeState !== "active") problems.push(`${service} is ${activeState}/${subState}`);
    let health: Health = u.health ? "unknown" : "none";
    let container: ContainerStatus["container"] = { state: "unknown", exitCode: null, startedAt: null };
    if (inspectError) problems.push(inspectError);
    else if (!c) {
      container = { state: "missing", exitCode: null, startedAt: null };
      problems.push("no such container");
    } else {
      container = { state: c.state, exitCode: c.exitCode, startedAt: c.startedAt };
      if (c.state !== "running") problems.push(`container ${c.state}${c.exitCode !== null && c.state === "exited" ? ` (exit code ${c.exitCode})` : ""}`);
      if (u.health) {
        health = c.health === "healthy" || c.health === "unhealthy" || c.health === "starting" ? c.health : "unknown";
        if (health === "unhealthy") problems.push("health check failing");
      }
    }
    const down = problems.length > 0 || activeState !== "active";
    const status: Verdict = down ? "down" : health === "starting" ? "starting" : "ok";
    return { app: u.app, version: u.version, manifest: u.manifest, name: u.name, service, unit, unitPresent, loadState, activeState, subState, restarts: nr, container, health, status, problems, dropIns: dropIns.get(u.name) ?? [],
      data: u.volumes.map((v) => ({ target: v.target, host: v.source, volume: v.source.startsWith("/") ? null : v.source, readOnly: v.readOnly, adopted: adopted.has(v.source) })) };
  });

  const byApp = new Map<string, typeof containers>();
  for (const c of containers) byApp.set(c.app, [...(byApp.get(c.app) ?? []), c]);
  const apps = [...byApp]
    .sort((a, b) => cmp(a[0], b[0]))
    .map(([app, cs]) => ({
      id: app,
      version: cs[0]!.version,
      manifest: cs[0]!.manifest,
      status: (cs.some((c) => c.status === "down") ? "down" : cs.some((c) => c.status === "starting") ? "starting" : "ok") as Verdict,
      containers: cs.map(({ app: _a, version: _v, manifest: _m, ...rest }) => rest),
    }));
  const down = containers.filter((c) => c.status === "down").map((c) => c.name);
  return {
    ok: down.length === 0,
    generation: { id, state: meta?.state ?? "unknown", time: meta?.time ?? null, manifestHash: meta?.manifestHash ?? null, note: meta?.note ?? null, ota },
    apps,
    down,
    lndBackup: lndBackupStatus(root, id) ?? null,
    images: await keptImageSpace(root, adapter),
    disk: await lowDisk(root, adapter, id, freeBytes),
  };
}

/** File systems below min_free_disk (the selection the last apply recorded), for the current generation. */
async function lowDisk(root: string, adapter: SystemAdapter, id: number, freeBytes?: (path: string) => number): Promise<StatusReport["disk"]> {
  const required = await recordedMinFree(root);
  const rows = await diskReport({ root, adapter, log: () => {}, freeBytes }, readGeneration(root, id), required);
  return { required, low: rows.filter((r) => r.low).map((r) => ({ paths: r.paths, free: r.free })) };
}

function generationLine(g: NonNullable<StatusReport["generation"]>): string[] {
  const lines = [`generation ${g.id}: ${g.state}${g.time ? `, applied ${g.time}` : ""}${g.manifestHash ? `, manifests ${g.manifestHash}` : ""}${g.note ? ` (${g.note})` : ""}`];
  const o = g.ota;
  if (o && "corrupt" in o) lines.push(`ota: marker is ${o.corrupt}; archy-quadlet ota verify will treat it as a failed release`);
  else if (o && o.rolledBack) lines.push(`ota: release ${o.release} failed verification and was rolled back${o.evidence ? ` (${o.evidence})` : ""}; needs attention`);
  else if (o) lines.push(`ota: release ${o.release} pending verification since ${o.time} (attempts ${o.attempts}, fallback generation ${o.fallback ?? "none"}); archy-quadlet-ota-verify.service decides`);
  else if (g.state === "good") lines.push("ota: no release pending; generation verified good");
  return lines;
}

export function formatStatus(r: StatusReport): string {
  if (!r.generation) return "no generation installed (run archy-quadlet apply)";
  const o = generationLine(r.generation);
  const b = r.lndBackup;
  if (b) {
    if (!b.sourceExists) o.push(`lnd channel backup: ${b.source} does not exist yet (lnd writes it once its wallet exists)`);
    else if (!b.newest) o.push(`lnd channel backup: WARNING no copy in ${b.dest} yet (archy-quadlet-lnd-backup.service makes one)`);
    else o.push(`lnd channel backup: newest copy ${b.ageSeconds}s old in ${b.dest}${b.stale ? " — WARNING: lnd's channel.backup is newer than it; check systemctl status archy-quadlet-lnd-backup.service" : ""}`);
  }
  const rows: string[][] = [["STATUS", "APP", "CONTAINER", "UNIT", "SERVICE", "CONTAINER-STATE", "HEALTH", "RESTARTS"]];
  for (const a of r.apps) {
    for (const c of a.containers) {
      const unit = !c.unitPresent ? "missing" : c.loadState;
      const st = c.container.state === "exited" && c.container.exitCode !== null ? `exited (${c.container.exitCode})` : c.container.state;
      rows.push([c.status, a.id, c.name, unit, `${c.activeState}/${c.subState}`, st, c.health === "none" ? "-" : c.health, c.restarts === null ? "?" : String(c.restarts)]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  o.push("", ...rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()));
  const all = r.apps.flatMap((a) => a.containers);
  for (const c of all) for (const d of c.data.filter((x) => x.adopted)) o.push(`data: ${c.name}:${d.target} ← ${d.volume ? `podman volume ${d.volume}` : d.host} (adopted, used in place)`);
  for (const c of all) for (const d of c.dropIns) o.push(`WARNING: hand-written drop-in ${d} changes ${c.name} outside archy-quadlet (move it into the selection's overrides)`);
  o.push("");
  if (r.images) o.push(`images: the kept generations' ${r.images.images} image${r.images.images === 1 ? "" : "s"} hold ${formatSize(r.images.bytes)}${r.images.missing.length ? `; not on disk: ${r.images.missing.join(", ")}` : ""}`);
  else o.push("images: space unknown (podman images failed)");
  for (const d of r.disk.low) o.push(`WARNING: ${d.paths.map((p) => `${p.path} (${p.what})`).join(", ")}: ${formatSize(d.free)} free, below min_free_disk ${formatSize(r.disk.required)}: the next apply will refuse to fetch`);
  o.push("");
  if (all.length === 0) o.push("the current generation has no containers");
  else if (r.down.length === 0) o.push(`all ${all.length} containers up${all.some((c) => c.status === "starting") ? " (some still starting)" : ""}`);
  else {
    o.push(`${r.down.length} of ${all.length} containers down:`);
    for (const c of all.filter((x) => x.status === "down")) o.push(`  ${c.name}: ${c.problems.join("; ")}`);
  }
  return o.join("\n");
}

export async function statusCmd(o: { root: string; json?: boolean }, adapter: SystemAdapter = defaultAdapter(), freeBytes?: (path: string) => number): Promise<void> {
  const r = await nodeStatus(o.root, adapter, freeBytes);
  if (o.json) out(JSON.stringify(r, null, 2));
  else out(formatStatus(r));
  if (!r.ok) throw new Failure("findings");
}
