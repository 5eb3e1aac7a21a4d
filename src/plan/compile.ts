// The whole compile, pure: inputs read at the edge (src/plan/inputs.ts) →
// validate → graph → lower (+ derived configs) → a list of output files.
// Nothing is read or written here; callers decide what to do.
import { createHash } from "node:crypto";
import { placeDiagnostics, type LoadedApp, type Locate } from "../manifest/read.js";
import type { Selection } from "../manifest/schema.js";
import { cmp, type Diagnostic } from "../manifest/diagnostics.js";
import { buildGraph, type Graph } from "../graph/graph.js";
import { lower, UNIT_DIR, buildContextDir, SYSTEM_APPS, type OutputFile, type LowerOptions } from "../lower/lower.js";
import { DEFAULT_PODMAN, type Version } from "../lower/versions.js";
import { systemUnits } from "../lower/system-units.js";
import { deriveConfigs, type Derived } from "../configs/derive.js";
import type { SecretSource } from "../configs/secrets.js";
import { allocateIps } from "../lower/ip.js";
import { checkOnionEntries, torNode } from "../configs/tor.js";
import { backupUnits, checkBackupSetting } from "../lower/backup-units.js";
import { resolveSettings } from "../settings/resolve.js";
import { applySettings } from "../settings/apply.js";
import { checkStorage } from "../adopt/storage.js";

export interface CompileOptions {
  podman?: Version;
  secrets: SecretSource;
}

/** A build context as read from the catalog, or why it could not be used. */
export type ContextRead =
  | { kind: "ok"; files: { rel: string; content: Buffer; mode: number }[] }
  | { kind: "symlink-on-path"; link: string }
  | { kind: "unreadable" }
  | { kind: "contains-symlinks"; links: string[] };

/** Everything a compile needs, read from disk by readInputs(). */
export interface Inputs {
  apps: LoadedApp[];
  selection?: Selection;
  /** The selection file as given (diagnostics name it); set even when it failed to parse. */
  select?: string;
  /** file → position lookup, for diagnostics of later stages */
  locators: Map<string, Locate>;
  /** app id → build context as written in the manifest → what was read there */
  contexts: Map<string, Map<string, ContextRead>>;
  /** Problems found while reading (missing files, YAML, schema). */
  diagnostics: Diagnostic[];
}

export interface CompileResult {
  files: OutputFile[];
  graph?: Graph;
  /** The derived configs (files and what each container mounts), derived once. */
  derived?: Derived;
  diagnostics: Diagnostic[];
}

export function compileInputs(inputs: Inputs, opts: CompileOptions): CompileResult {
  const r = compileUnplaced(inputs, opts);
  // Later stages name a file and a field path; point them at the source too.
  placeDiagnostics(r.diagnostics, inputs.locators);
  return r;
}

function compileUnplaced(inputs: Inputs, opts: CompileOptions): CompileResult {
  const diags: Diagnostic[] = [...inputs.diagnostics];
  const { apps, selection } = inputs;
  checkHostPaths(apps, diags);
  if (diags.length === 0) checkNestedVolumes(apps, diags);
  checkOnionEntries(apps, diags);
  if (selection) checkBackupSetting(selection, inputs.select, apps, diags);
  if (selection) checkStorage(selection, inputs.select, apps, diags);
  if (diags.length > 0 || (inputs.select && !selection)) return { files: [], diagnostics: diags };
  const graph = buildGraph(apps, selection, inputs.select, diags);
  if (!graph) return { files: [], diagnostics: diags };
  if (selection) checkPorts(graph, diags);
  // Settings and local overrides: resolved, checked across apps, applied to the containers.
  const selLocate = inputs.select ? inputs.locators.get(inputs.select) : undefined;
  graph.settings = resolveSettings(graph, apps, inputs.select, selLocate, diags);
  graph.overrides = applySettings(graph, graph.settings, inputs.select, selLocate, diags);
  if (diags.length > 0) return { files: [], graph, diagnostics: diags };

  const podman = opts.podman ?? DEFAULT_PODMAN;
  // Stable addresses for Tor's targets, over the whole catalog; emitted only with tor selected.
  const ips = torNode(graph) ? new Map([...allocateIps(apps)].filter(([n]) => graph.byName.has(n))) : new Map<string, string>();
  const derived = deriveConfigs(graph, opts.secrets, diags, ips);
  const build = buildContexts(graph, inputs.contexts, diags);
  const lopts: LowerOptions = { podman, configs: derived.containers, buildHashes: build.hashes, ips };
  const units = lower(graph, lopts, diags);
  if (diags.length > 0) return { files: [], graph, diagnostics: diags };

  const files: OutputFile[] = [
    ...units.map((u) => ({ path: `${UNIT_DIR}/${u.unit.name}`, content: u.unit.serialize(), mode: 0o644, source: u.file === "archy.network" ? undefined : u.file })),
    ...derived.files,
    ...build.files,
    ...systemUnits(graph),
    ...backupUnits(graph),
  ];
  files.sort((a, b) => cmp(a.path, b.path));
  return { files, graph, derived, diagnostics: diags };
}

function checkHostPaths(apps: LoadedApp[], diags: Diagnostic[]): void {
  for (const { app, file } of apps) {
    for (const [key, c] of Object.entries(app.containers)) {
      (c.volumes ?? []).forEach((v, i) => {
        if (v.app) {
          const where = { file, path: `containers.${key}.volumes[${i}]` };
          if (!v.read_only) diags.push({ ...where, message: `volumes of another app ("${v.app}") must be read_only` });
          if (v.source.startsWith("/")) diags.push({ ...where, message: "with `app`, source must be relative to that app's data root" });
          if (!app.dependencies?.[v.app]) diags.push({ ...where, message: `reading "${v.app}"'s data requires a dependency on "${v.app}"` });
          return;
        }
        if (!v.source.startsWith("/")) return;
        if (!app.system || !SYSTEM_APPS.has(app.id)) {
          diags.push({
            file,
            path: `containers.${key}.volumes[${i}].source`,
            message: `absolute host path "${v.source}" is only allowed for allow-listed system apps; use a path relative to the app's data root`,
          });
        }
      });
    }
  }
}

/** A relative host path with `.` and empty segments dropped: "./a//b/" → "a/b", "." → "". */
function normalRel(p: string): string {
  return p.split("/").filter((x) => x !== "" && x !== ".").join("/");
}

/**
 * A container that mounts a host directory read-write can put a symlink anywhere
 * inside it. If another bind-mount source (of this app, or another app reading
 * this app's data) lies inside that directory, root-run podman and the
 * ExecStartPre mkdir/install follow the symlink on the host: the container
 * would choose what the other mount shows, or what gets chown'ed.
 */
function checkNestedVolumes(apps: LoadedApp[], diags: Diagnostic[]): void {
  const byId = new Map(apps.map((a) => [a.app.id, a]));
  // app id → its read-write relative sources: [normalised, where]
  const writable = new Map<string, { src: string; key: string; i: number }[]>();
  for (const { app } of apps) {
    const rw: { src: string; key: string; i: number }[] = [];
    for (const [key, c] of Object.entries(app.containers)) {
      (c.volumes ?? []).forEach((v, i) => {
        if (!v.app && !v.read_only && !v.source.startsWith("/")) rw.push({ src: normalRel(v.source), key, i });
      });
    }
    writable.set(app.id, rw);
  }
  for (const { app, file } of apps) {
    for (const [key, c] of Object.entries(app.containers)) {
      (c.volumes ?? []).forEach((v, i) => {
        if (v.source.startsWith("/")) return;
        const owner = v.app ?? app.id;
        if (v.app && !byId.has(v.app)) return; // reported elsewhere (dependency / unknown app)
        const src = normalRel(v.source);
        for (const w of writable.get(owner) ?? []) {
          const inside = w.src === "" ? src !== "" : src.startsWith(`${w.src}/`);
          if (!inside) continue;
          const by = owner === app.id ? `containers.${w.key}.volumes[${w.i}]` : `app "${owner}" (containers.${w.key}.volumes[${w.i}])`;
          diags.push({
            file,
            path: `containers.${key}.volumes[${i}].source`,
            message: `"${v.source}" lies inside "${w.src || "."}", which ${by} mounts read-write: that container could replace it with a symlink to any host path; use sibling directories, or make the outer mount read-only`,
          });
          break;
        }
      });
    }
  }
}

function checkPorts(g: Graph, diags: Diagnostic[]): void {
  const used = new Map<string, string>();
  for (const n of g.containers) {
    (n.spec.ports ?? []).forEach((p, i) => {
      const key = `${p.host}/${p.protocol}`;
      const prev = used.get(key);
      if (prev) diags.push({ file: n.file, path: `containers.${n.key}.ports[${i}].host`, message: `host port ${key} is already published by ${prev}` });
      else used.set(key, `container "${n.name}" (${n.file})`);
    });
  }
}

/** Build contexts are copied into the tree so a generation is self-contained. */
function buildContexts(g: Graph, contexts: Inputs["contexts"], diags: Diagnostic[]): { files: OutputFile[]; hashes: Map<string, string> } {
  const files: OutputFile[] = [];
  const hashes = new Map<string, string>();
  for (const n of g.containers) {
    const b = n.spec.build;
    if (!b) continue;
    const loaded = g.apps.find((a) => a.app.id === n.app.id)!;
    const where = { file: n.file, path: `containers.${n.key}.build.context` };
    const read = contexts.get(n.app.id)?.get(b.context) ?? { kind: "unreadable" };
    // A contributed catalog must not reach outside itself: no symlink on the way to, or inside, a context.
    if (read.kind === "symlink-on-path") {
      diags.push({ ...where, message: `build context "${b.context}" goes through the symlink "${read.link}"; build contexts must be real directories inside the catalog` });
      continue;
    }
    if (read.kind === "unreadable") {
      diags.push({ ...where, message: `build context "${b.context}" is not a readable directory (relative to ${loaded.dir})` });
      continue;
    }
    if (read.kind === "contains-symlinks") {
      const links = read.links;
      diags.push({ ...where, message: `build context "${b.context}" contains the symlink${links.length > 1 ? "s" : ""} ${links.map((l) => `"${l}"`).join(", ")}; symlinks are not copied (they could point outside the catalog)` });
      continue;
    }
    if (!read.files.some((f) => f.rel === b.file)) {
      diags.push({ file: n.file, path: `containers.${n.key}.build.file`, message: `"${b.file}" not found in build context "${b.context}"` });
      continue;
    }
    const h = createHash("sha256");
    for (const f of read.files) {
      h.update(`${f.rel}\0${f.mode}\0${f.content.length}\0`).update(f.content);
      files.push({ path: `${buildContextDir(n).slice(1)}/${f.rel}`, content: f.content, mode: f.mode, source: n.file });
    }
    hashes.set(n.name, `sha256:${h.digest("hex").slice(0, 16)}`);
  }
  return { files, hashes };
}
