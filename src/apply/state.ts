// What archy-quadlet owns on a node:
//   var/lib/archy-quadlet/generations/<n>/   complete trees (+ meta.json): history, rollback targets
//   var/lib/archy-quadlet/current -> generations/<n>   (bookkeeping; follows the switch below)
//   var/lib/archy-quadlet/inputs.json, ota/   (the lock is a socket name, not a file: lock.ts)
//   etc/archy-quadlet/active/<n>/            the active generation's tree, materialised as real files
//   etc/archy-quadlet/active/current -> <n>  THE switch: one rename; what the node runs
// and the stable links (etc/containers/systemd/archy, etc/archy, the archy-quadlet-* units, …)
// through etc/archy-quadlet/active/current.
//
// Why the active tree lives under /etc: the quadlet generator and PID 1 read unit files
// before local-fs.target, i.e. before a separately mounted /var (or /var/lib/archy-quadlet)
// exists. Everything they read at boot must be on the root file system, so the active tree
// is copied there (every file and directory fsynced) before the switch; generations, OTA
// state stay in /var/lib/archy-quadlet, which is only used at run time.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, chmodSync } from "node:fs";
import { fsyncDir, writeFileAtomic } from "../atomic.js";
import { createHash } from "node:crypto";
import { dirname, join, relative } from "node:path";
import { cmp } from "../manifest/diagnostics.js";
import { Failure } from "../outcome.js";
import { UNIT_DIR, CONFIG_ROOT, type OutputFile } from "../lower/lower.js";
import { CONTAINERS_CONF_DROPIN } from "../lower/paths.js";
import { SYSTEM_UNIT_DIR, SYSTEM_UNIT_WANTS } from "../lower/system-units.js";
import { asBuffer } from "../plan/tree.js";
import type { Tree } from "./plan.js";
import { tick } from "./fsops.js";

export const STATE_REL = "var/lib/archy-quadlet";
/** The materialised active tree, on the root file system (see the header). */
export const ACTIVE_REL = "etc/archy-quadlet/active";

export type GenState = "good" | "pending" | "failed" | "applied";

export interface GenMeta {
  id: number;
  time: string;
  manifestHash: string;
  treeHash: string;
  state: GenState;
  note?: string;
  /** Generation active when this one was written: what an interrupted activation plans from. */
  from?: number;
  /** Fingerprint of the inputs that produced it (bundle runs only): lets reconcile skip compiling. */
  fingerprint?: string;
}

export class StateError extends Failure {
  constructor(message: string) {
    super("failed", message);
  }
}

export function statePaths(root: string) {
  const state = join(root, STATE_REL);
  return {
    state,
    gens: join(state, "generations"),
    current: join(state, "current"),
    inputs: join(state, "inputs.json"),
    ota: join(state, "ota"),
  };
}

export function treeHash(files: Iterable<[string, { content: Buffer | string | Uint8Array; mode: number }]>): string {
  const h = createHash("sha256");
  for (const [p, f] of [...files].sort((a, b) => cmp(a[0], b[0]))) {
    const c = asBuffer(f.content as string | Uint8Array);
    h.update(`${p}\0${f.mode.toString(8)}\0${c.length}\0`).update(c);
  }
  return h.digest("hex");
}

export function activePaths(root: string) {
  const dir = join(root, ACTIVE_REL);
  return { dir, current: join(dir, "current") };
}

function linkedId(link: string, re: RegExp): number | undefined | null {
  let target: string;
  try {
    target = readlinkSync(link);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? null : undefined;
  }
  const m = re.exec(target);
  return m ? Number(m[1]) : undefined;
}

/** The generation the node runs: etc/archy-quadlet/active/current (null: no such link). */
function activeLinkId(root: string): number | undefined | null {
  return linkedId(activePaths(root).current, /^(\d+)$/);
}

/**
 * The current generation: the one whose tree is active under /etc. A node still on the
 * layout before that (links straight into /var/lib/archy-quadlet/current) has no
 * active/current link yet: there the state dir's `current` is the truth until the next
 * apply migrates it.
 */
export function currentId(root: string): number | undefined {
  const a = activeLinkId(root);
  if (a !== null) return a;
  return linkedId(statePaths(root).current, /generations\/(\d+)$/) ?? undefined;
}

export function genDir(root: string, id: number): string {
  return join(statePaths(root).gens, String(id));
}

export function readMeta(root: string, id: number): GenMeta | undefined {
  try {
    return JSON.parse(readFileSync(join(genDir(root, id), "meta.json"), "utf8")) as GenMeta;
  } catch {
    return undefined;
  }
}

/** Rewrite meta.json atomically: states change after the fact. */
export function writeMeta(root: string, meta: GenMeta): void {
  // The temp file sits next to the generations, never inside one: a crash must not add a file to a tree.
  writeFileAtomic(join(genDir(root, meta.id), "meta.json"), JSON.stringify(meta, null, 2) + "\n", 0o644, { tmpDir: statePaths(root).gens });
}

export function listGenerations(root: string): GenMeta[] {
  let names: string[] = [];
  try {
    names = readdirSync(statePaths(root).gens);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+$/.test(n))
    .map((n) => readMeta(root, Number(n)))
    .filter((m): m is GenMeta => m !== undefined)
    .sort((a, b) => a.id - b.id);
}

/** Read a generation's tree (everything but meta.json). */
export function readGeneration(root: string, id: number): Tree {
  return readTreeAt(genDir(root, id));
}

/**
 * The tree the node runs, as it is on disk now (hand edits included): the materialised
 * copy under /etc; on a node not migrated yet, the current generation itself.
 */
export function readActiveTree(root: string): Tree {
  const a = activeLinkId(root);
  if (a === null) {
    const id = currentId(root);
    return id !== undefined && existsSync(genDir(root, id)) ? readGeneration(root, id) : new Map();
  }
  const dir = a === undefined ? undefined : join(activePaths(root).dir, String(a));
  return dir && existsSync(dir) ? readTreeAt(dir) : new Map();
}

function readTreeAt(base: string): Tree {
  const tree: Tree = new Map();
  const walk = (rel: string) => {
    for (const e of readdirSync(join(base, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && r !== "meta.json") {
        const abs = join(base, r);
        tree.set(r, { content: readFileSync(abs), mode: lstatSync(abs).mode & 0o7777 });
      }
    }
  };
  walk("");
  return tree;
}

export function toTree(files: OutputFile[]): Tree {
  return new Map(files.map((f) => [f.path, { content: asBuffer(f.content), mode: f.mode }]));
}

/** What a crash can leave behind: half-built or half-pruned generations, a temp `current` link. */
export function garbage(root: string): string[] {
  const { state, gens } = statePaths(root);
  let names: string[] = [];
  try {
    names = readdirSync(gens);
  } catch {
    return [];
  }
  const cur = currentId(root);
  const out: string[] = [];
  for (const n of names) {
    const meta = /^\d+$/.test(n) ? readMeta(root, Number(n)) : undefined;
    // Complete but never switched to (a crash between writing it and the switch): nothing refers to it.
    const orphan = meta?.state === "applied" && (cur === undefined || meta.id > cur);
    if ((!meta || orphan) && Number(n) !== cur) out.push(join(gens, n));
  }
  for (const n of readdirSync(state)) {
    const lockTemp = /^lock\.(?:stale-)?(\d+)$/.exec(n);
    if (n.startsWith("current.tmp") || (lockTemp && !alive(Number(lockTemp[1])))) out.push(join(state, n));
  }
  out.push(...activeGarbage(root));
  // Temp links of a link replacement (migration from the earlier layout) cut short.
  for (const d of new Set(stableLinks().map((l) => dirname(l.at)))) {
    let entries: string[] = [];
    try {
      entries = readdirSync(join(root, d));
    } catch {
      continue;
    }
    for (const n of entries) if (n.startsWith(LINK_TMP)) out.push(join(root, d, n));
  }
  return out;
}

const LINK_TMP = ".archy-tmp-link-";

/**
 * Everything in etc/archy-quadlet/active but `current` and the tree it names: copies being
 * built or discarded (.tmp-*, .old-*), a copy made but never switched to, a temp link,
 * and the trees switched away from.
 */
function activeGarbage(root: string): string[] {
  const { dir } = activePaths(root);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const cur = activeLinkId(root);
  return names.filter((n) => n !== "current" && n !== String(cur)).map((n) => join(dir, n));
}

/** Remove half-built generations left by a crash. */
export function collectGarbage(root: string): string[] {
  const removed = garbage(root);
  for (const p of removed) discard(p);
  return removed.map((p) => p.slice(p.lastIndexOf("/") + 1));
}

export function ensureStateDir(root: string): void {
  const { state, gens } = statePaths(root);
  // Every component below root (var, var/lib, the state dir, generations): a symlink
  // anywhere on the way would send generations (secrets included) somewhere else.
  for (const d of [dirname(dirname(state)), dirname(state), state, gens]) {
    let made = false;
    try {
      mkdirSync(d, { mode: 0o755 });
      made = true;
      tick();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const st = lstatSync(d);
    if (st.isSymbolicLink()) throw new StateError(`refusing to use state directory ${state}: ${d} is a symlink archy-quadlet did not create`);
    if (!st.isDirectory()) throw new StateError(`cannot use state directory ${state}: ${d} exists and is not a directory`);
    // Generations hold secret-bearing files (0600 themselves); the dirs stay traversable
    // for containers' bind mounts whatever the caller's umask.
    if (made) chmodSync(d, 0o755);
  }
}

/** Write a complete generation: temp dir, every file fsynced, meta last, one rename. */
export function writeGeneration(root: string, id: number, files: OutputFile[], meta: GenMeta): void {
  const { gens } = statePaths(root);
  const tmp = join(gens, `.tmp-${id}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    buildGeneration(tmp, files, meta);
    renameSync(tmp, genDir(root, id));
  } catch (e) {
    // A full or read-only disk: leave no half-built generation (nor its space) behind.
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  tick();
  fsyncDir(gens);
}

function buildGeneration(tmp: string, files: OutputFile[], meta?: GenMeta): void {
  mkdirSync(tmp, { mode: 0o755 });
  chmodSync(tmp, 0o755); // umask must not decide (077 would hide the whole generation)
  tick();
  const dirs = new Set<string>();
  for (const f of [...files].sort((a, b) => cmp(a.path, b.path))) {
    const abs = join(tmp, f.path);
    const d = dirname(abs);
    if (!dirs.has(d)) {
      mkdirSync(d, { recursive: true, mode: 0o755 });
      for (let x = d; x.length > tmp.length; x = dirname(x)) chmodSync(x, 0o755);
      dirs.add(d);
      tick();
    }
    writeFileAtomic(abs, asBuffer(f.content), f.mode, { syncDir: false });
  }
  if (meta) writeFileAtomic(join(tmp, "meta.json"), JSON.stringify(meta, null, 2) + "\n", 0o644, { syncDir: false });
  for (const d of [...dirs].sort().reverse()) fsyncDir(d);
  fsyncDir(tmp);
}

/**
 * Remove a tree or file; a directory is renamed to .old-* first (a crash mid-delete never
 * leaves a tree that looks complete), then deleted.
 */
function discard(p: string): void {
  const st = lstatSync(p, { throwIfNoEntry: false });
  if (!st) return;
  const base = p.slice(p.lastIndexOf("/") + 1);
  if (st.isDirectory() && !base.startsWith(".")) {
    const doomed = join(dirname(p), `.old-${base}-${process.pid}`);
    renameSync(p, doomed);
    tick();
    p = doomed;
  }
  rmSync(p, { recursive: true, force: true });
}

/** etc/archy-quadlet/active as real directories: never through a symlink we did not make. */
export function ensureActiveDir(root: string): void {
  const parts = ACTIVE_REL.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const d = join(root, ...parts.slice(0, i));
    let made = false;
    try {
      mkdirSync(d, { mode: 0o755 });
      made = true;
      tick();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const st = lstatSync(d);
    if (st.isSymbolicLink()) throw new StateError(`refusing to write through symlink ${d} (archy-quadlet did not create it)`);
    if (!st.isDirectory()) throw new StateError(`cannot use ${d}: it exists and is not a directory`);
    if (made) chmodSync(d, 0o755);
  }
}

/**
 * Copy generation id to etc/archy-quadlet/active/<id> (temp dir, every file and directory
 * fsynced, one rename). A copy of the tree the node runs now is left alone; any other
 * existing copy of that id (left by a crash) is rebuilt.
 */
function materialise(root: string, id: number): void {
  ensureActiveDir(root);
  const { dir } = activePaths(root);
  const dest = join(dir, String(id));
  if (existsSync(dest)) {
    if (activeLinkId(root) === id) return;
    discard(dest);
  }
  const files: OutputFile[] = [...readGeneration(root, id)].map(([path, f]) => ({ path, content: f.content, mode: f.mode }));
  const tmp = join(dir, `.tmp-${id}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    buildGeneration(tmp, files);
    renameSync(tmp, dest);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  tick();
  fsyncDir(dir);
}

/** Point the symlink dir/name at target: a temp link, one rename, the directory fsynced. */
function switchLink(dir: string, name: string, target: string): void {
  const tmp = join(dir, `${name}.tmp-${process.pid}`);
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp);
  tick();
  renameSync(tmp, join(dir, name));
  tick();
  fsyncDir(dir);
}

/**
 * Make generation id the active one. Its tree is materialised under /etc first; then the
 * one atomic step, the rename of etc/archy-quadlet/active/current; then the state dir's
 * `current` follows and the tree switched away from is removed. A crash before the rename
 * leaves the old tree active (the new copy is garbage); after it, the new one (the state
 * link is brought in line by the next apply, which reads the truth under /etc).
 */
export function switchCurrent(root: string, id: number): void {
  materialise(root, id);
  switchLink(activePaths(root).dir, "current", String(id));
  switchLink(statePaths(root).state, "current", `generations/${id}`);
  for (const p of activeGarbage(root)) discard(p);
}

/** The state dir's `current` agrees with the active tree (after a crash right after the switch it may not). */
export function stateLinkInLine(root: string): boolean {
  const a = activeLinkId(root);
  return a === null || a === undefined || linkedId(statePaths(root).current, /^generations\/(\d+)$/) === a;
}

/** Bring the state dir's `current` in line with the active tree. */
export function alignStateLink(root: string): void {
  const a = activeLinkId(root);
  if (typeof a === "number" && !stateLinkInLine(root)) switchLink(statePaths(root).state, "current", `generations/${a}`);
}

/** Links from the target filesystem into `current`: path in root → path inside a generation. */
export function stableLinks(): { at: string; to: string }[] {
  const viaCurrent = (p: string) => ({ at: p, to: p });
  const links = [viaCurrent(UNIT_DIR), viaCurrent(CONFIG_ROOT.slice(1)), viaCurrent(CONTAINERS_CONF_DROPIN)];
  for (const [unit, target] of Object.entries(SYSTEM_UNIT_WANTS)) {
    links.push(viaCurrent(`${SYSTEM_UNIT_DIR}/${unit}`));
    links.push({ at: `${SYSTEM_UNIT_DIR}/${target}.wants/${unit}`, to: "" });
  }
  links.push(viaCurrent(`${SYSTEM_UNIT_DIR}/archy-quadlet-reconcile.service`));
  return links.sort((a, b) => cmp(a.at, b.at));
}

function linkTarget(at: string, to: string, base = ACTIVE_REL): string {
  // .wants links point at the unit next to them; the rest go through current, relatively,
  // so a tree under --root works the same as on /.
  if (to === "") return `../${at.slice(at.lastIndexOf("/") + 1)}`;
  return relative(dirname(`/${at}`), `/${base}/current/${to}`);
}

/**
 * Create missing stable links; refuse to replace anything that is not ours. Returns what it
 * created. A link of the earlier layout (into /var/lib/archy-quadlet/current) is ours: it is
 * replaced, atomically, after the tree it shows has been materialised under /etc, so the
 * node sees the same files throughout.
 */
export function ensureStableLinks(root: string, dryRun = false): string[] {
  const made: string[] = [];
  if (!dryRun) ensureActiveDir(root);
  for (const { at, to } of stableLinks()) {
    const abs = join(root, at);
    const want = linkTarget(at, to);
    let st;
    try {
      st = lstatSync(abs);
    } catch {
      st = undefined;
    }
    if (st) {
      const have = st.isSymbolicLink() ? readlinkSync(abs) : undefined;
      if (have === want) continue;
      if (to === "" || have !== linkTarget(at, to, STATE_REL)) {
        throw new StateError(`refusing to replace /${at}: it exists and was not created by archy-quadlet (move it away first)`);
      }
      if (dryRun) {
        made.push(at);
        continue;
      }
      const cur = currentId(root);
      if (activeLinkId(root) === null && cur !== undefined && existsSync(genDir(root, cur))) switchCurrent(root, cur);
      // A hidden name: neither systemd nor quadlet reads it, should a crash leave it (garbage() collects it).
      const tmp = join(dirname(abs), `${LINK_TMP}${process.pid}-${at.slice(at.lastIndexOf("/") + 1)}`);
      rmSync(tmp, { force: true });
      symlinkSync(want, tmp);
      tick();
      renameSync(tmp, abs);
      tick();
      made.push(at);
      continue;
    }
    if (dryRun) {
      made.push(at);
      continue;
    }
    for (const d of ancestors(dirname(at))) {
      const ad = join(root, d);
      try {
        const s = lstatSync(ad);
        if (s.isSymbolicLink()) throw new StateError(`refusing to write through symlink /${d}`);
      } catch (e) {
        if (e instanceof StateError) throw e;
        mkdirSync(ad, { mode: 0o755 });
        chmodSync(ad, 0o755);
        tick();
      }
    }
    symlinkSync(want, abs);
    tick();
    made.push(at);
  }
  return made;
}

function ancestors(rel: string): string[] {
  const parts = rel.split("/").filter(Boolean);
  return parts.map((_, i) => parts.slice(0, i + 1).join("/"));
}

/** Keep the newest `keep` generations plus any protected ones (current, OTA fallback). */
export function prune(root: string, keep: number, protect: Set<number>, dryRun = false): number[] {
  const all = listGenerations(root).map((g) => g.id);
  const keepSet = new Set([...all.slice(-keep), ...protect]);
  const removed: number[] = [];
  for (const id of all) {
    if (keepSet.has(id)) continue;
    if (dryRun) {
      removed.push(id);
      continue;
    }
    // Rename first so a crash mid-delete never leaves a generation that looks complete.
    const doomed = join(statePaths(root).gens, `.tmp-prune-${id}`);
    renameSync(genDir(root, id), doomed);
    tick();
    rmSync(doomed, { recursive: true, force: true });
    removed.push(id);
  }
  return removed;
}

/** Whether a process with this pid exists (lock temp files of the file lock this replaced name one). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
