// The disk guard (issue 15): before anything is pulled or built, Podman's graph
// root and every app data file system the generation uses must have at least the
// selection's `settings.min_free_disk` free; below it apply refuses (exit 3,
// nothing switched). `status` reports the same figures and warns.
import { existsSync, readFileSync, statSync, statfsSync } from "node:fs";
import { dirname, join } from "node:path";
import { UNIT_DIR } from "../lower/lower.js";
import { cmp } from "../manifest/diagnostics.js";
import { Failure } from "../outcome.js";
import { unitValues } from "../unit/unitfile.js";
import type { SystemAdapter } from "./adapter.js";
import type { Tree } from "./plan.js";
import { statePaths } from "./state.js";

export const DEFAULT_MIN_FREE_DISK = "2G";
/** A size like 500M, 5G, 1.5T (binary units; a bare number is bytes). */
export const SIZE_RE = /^[0-9]+(\.[0-9]+)?[KMGT]?$/i;
const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

export function parseSize(s: string): number | undefined {
  if (!SIZE_RE.test(s)) return undefined;
  const m = /^([0-9.]+)([KMGT]?)$/i.exec(s)!;
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
}

export function formatSize(n: number): string {
  for (const [u, f] of [["T", 1024 ** 4], ["G", 1024 ** 3], ["M", 1024 ** 2], ["K", 1024]] as const) if (n >= f) return `${(n / f).toFixed(1)}${u}`;
  return `${n}B`;
}

export interface DiskEnv {
  root: string;
  adapter: SystemAdapter;
  log: (line: string) => void;
  /** Free bytes (for an unprivileged user) of the file system holding an existing path; default statfs(2). */
  freeBytes?: (path: string) => number;
}

export const DEFAULT_GRAPH_ROOT = "/var/lib/containers/storage";

/** Podman's graph root (`podman info --format json` → store.graphRoot); the default when podman cannot say. */
export async function graphRoot(env: DiskEnv): Promise<string> {
  const r = await env.adapter.run("podman", ["info", "--format", "json"], { timeoutMs: 60_000 });
  try {
    const g = (JSON.parse(r.stdout) as { store?: { graphRoot?: unknown } }).store?.graphRoot;
    if (typeof g === "string" && g.startsWith("/")) return g;
  } catch {
    /* below */
  }
  env.log(`warning: podman info gave no graph root (exit ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().split("\n")[0]}` : ""}); checking ${DEFAULT_GRAPH_ROOT}`);
  return DEFAULT_GRAPH_ROOT;
}

/**
 * Host directories the tree's containers write data to: Volume= sources that are
 * paths and mounted read-write. Derived configs (/etc) and read-only host mounts
 * (netdata's /proc, /sys, /var/log) are not data: /proc reports 0 bytes free.
 */
export function dataDirs(tree: Tree): string[] {
  const dirs = new Set<string>();
  for (const [p, f] of tree) {
    if (!p.startsWith(`${UNIT_DIR}/`) || !p.endsWith(".container")) continue;
    for (const v of unitValues(f.content.toString("utf8"), "Container", "Volume")) {
      const [src = "", , opts = ""] = v.split(":");
      if (src.startsWith("/") && !src.startsWith("/etc/") && !opts.split(",").includes("ro")) dirs.add(src);
    }
  }
  return [...dirs].sort(cmp);
}

function nearestExisting(p: string): string {
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

export interface FsFree {
  /** What lives on this file system: the paths checked (as the node names them) and what each holds. */
  paths: { path: string; what: string }[];
  free: number;
  required: number;
  low: boolean;
}

export const fsLabel = (r: FsFree) => r.paths.map((p) => `${p.path} (${p.what})`).join(", ");

/** Free space on the graph root and every data file system (one row per file system). */
export async function diskReport(env: DiskEnv, tree: Tree, required: number): Promise<FsFree[]> {
  const free = env.freeBytes ?? ((p: string) => {
    const s = statfsSync(p);
    return Number(s.bavail) * Number(s.bsize);
  });
  const graph = await graphRoot(env);
  // The graph root is podman's own path; data dirs are under --root like every other node path.
  const targets = [{ path: graph, abs: graph, what: "podman graph root" }, ...dataDirs(tree).map((d) => ({ path: d, abs: join(env.root, d), what: "app data" }))];
  const byDev = new Map<string, FsFree>();
  for (const t of targets) {
    const at = nearestExisting(t.abs);
    let dev: string;
    try {
      dev = String(statSync(at).dev);
    } catch {
      dev = at;
    }
    const row = byDev.get(dev);
    if (row) row.paths.push({ path: t.path, what: t.what });
    else {
      const f = free(at);
      byDev.set(dev, { paths: [{ path: t.path, what: t.what }], free: f, required, low: f < required });
    }
  }
  return [...byDev.values()];
}

/** Refuse (exit 3, nothing switched) when a file system the generation writes to is below `required`. */
export async function checkDisk(env: DiskEnv, tree: Tree, required: number): Promise<void> {
  const low = (await diskReport(env, tree, required)).filter((r) => r.low);
  if (low.length === 0) return;
  throw new Failure(
    "failed",
    `not enough free disk space; nothing was fetched or switched:\n${low
      .map((r) => `  ${fsLabel(r)}: ${formatSize(r.free)} free, min_free_disk requires ${formatSize(r.required)}`)
      .join("\n")}\nfree some space or lower settings.min_free_disk in the selection`,
  );
}

/** min_free_disk of the selection the last apply recorded (inputs.json), or the default: for rollback and status. */
export async function recordedMinFree(root: string): Promise<number> {
  try {
    const inputs = JSON.parse(readFileSync(statePaths(root).inputs, "utf8")) as { select?: string };
    if (inputs.select) {
      const { parse } = await import("yaml");
      const sel = parse(readFileSync(inputs.select, "utf8")) as { settings?: { min_free_disk?: unknown } } | null;
      const v = sel?.settings?.min_free_disk;
      const n = typeof v === "string" ? parseSize(v) : undefined;
      if (n !== undefined) return n;
    }
  } catch {
    /* the default */
  }
  return parseSize(DEFAULT_MIN_FREE_DISK)!;
}
