// Images before the switch (issue 15): every image a generation needs is made
// present locally *before* anything stops — `podman image exists`, else `podman
// pull` of the exact reference (bounded retries) — and every changed `.build` is
// built beforehand with the tag, file, context and labels its unit uses, so the
// unit's own build at start is a cache hit. What archy-quadlet pulled or built is
// recorded (var/lib/archy-quadlet/images.json); cleanup removes, by ID, only
// recorded images no kept generation references.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../atomic.js";
import { UNIT_DIR } from "../lower/lower.js";
import { cmp } from "../manifest/diagnostics.js";
import { Failure } from "../outcome.js";
import { unitValues } from "../unit/unitfile.js";
import type { SystemAdapter } from "./adapter.js";
import { checkDisk, type DiskEnv } from "./disk.js";
import type { Tree } from "./plan.js";
import { listGenerations, readActiveTree, readGeneration, statePaths } from "./state.js";

/** What the image steps need of apply's Env (kept structural: no import cycle with apply.ts). */
export interface ImageEnv {
  root: string;
  adapter: SystemAdapter;
  log: (line: string) => void;
  /** Base delay before a pull is retried, doubled each time (default 2000 ms). */
  pullBackoffMs?: number;
}

export const PULL_ATTEMPTS = 3;
const PULL_TIMEOUT_MS = 30 * 60_000;
const BUILD_TIMEOUT_MS = 30 * 60_000;

/** A pull or build that failed: nothing was switched (exit 3). */
export class ImageError extends Failure {
  constructor(message: string) {
    super("failed", message);
  }
}

export interface BuildSpec {
  /** The .build unit's path in the tree. */
  unit: string;
  tag: string;
  /** Absolute node paths, as the unit names them. */
  file: string;
  context: string;
  labels: string[];
}

const unitFiles = (tree: Tree, ext: string) =>
  [...tree].filter(([p]) => p.startsWith(`${UNIT_DIR}/`) && p.endsWith(ext)).sort((a, b) => cmp(a[0], b[0]));

/** Registry images the tree's containers run (Image= not naming a .build unit), unique, sorted. */
export function imageRefs(tree: Tree): string[] {
  const refs = new Set<string>();
  for (const [, f] of unitFiles(tree, ".container")) {
    for (const v of unitValues(f.content.toString("utf8"), "Container", "Image")) if (!v.endsWith(".build") && !v.endsWith(".image")) refs.add(v);
  }
  return [...refs].sort(cmp);
}

/** The tree's .build units: ImageTag=, File=, SetWorkingDirectory= (the context) and Label=, through the one unit parser. */
export function buildSpecs(tree: Tree): BuildSpec[] {
  const out: BuildSpec[] = [];
  for (const [path, f] of unitFiles(tree, ".build")) {
    const text = f.content.toString("utf8");
    const one = (k: string) => unitValues(text, "Build", k).at(-1);
    const tag = one("ImageTag");
    const context = one("SetWorkingDirectory");
    if (!tag || !context) continue;
    out.push({ unit: path, tag, context, file: one("File") ?? `${context}/Containerfile`, labels: unitValues(text, "Build", "Label") });
  }
  return out;
}

/** Every image reference the tree needs: registry images and build tags. */
export function referencedImages(tree: Tree): string[] {
  return [...new Set([...imageRefs(tree), ...buildSpecs(tree).map((b) => b.tag)])].sort(cmp);
}

/** A build whose unit or any file of its context differs between the trees. */
function buildChanged(b: BuildSpec, active: Tree, next: Tree): boolean {
  const ctx = `${b.context.replace(/^\/+/, "")}/`;
  const differs = (p: string) => {
    const a = active.get(p);
    const n = next.get(p);
    return !a || !n ? a !== n : a.mode !== n.mode || !a.content.equals(n.content);
  };
  if (differs(b.unit)) return true;
  return [...new Set([...active.keys(), ...next.keys()])].some((p) => p.startsWith(ctx) && differs(p));
}

async function exists(env: ImageEnv, ref: string): Promise<boolean> {
  return (await env.adapter.run("podman", ["image", "exists", ref], { timeoutMs: 60_000 })).code === 0;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const tail = (s: string) => s.trim().split("\n").slice(-5).join("\n");

/** What must be fetched for `next`: missing registry images, builds that changed or whose tag is missing. */
export async function missingImages(env: ImageEnv, next: Tree, active: Tree): Promise<{ pulls: string[]; builds: BuildSpec[] }> {
  const pulls: string[] = [];
  for (const ref of imageRefs(next)) if (!(await exists(env, ref))) pulls.push(ref);
  const builds: BuildSpec[] = [];
  for (const b of buildSpecs(next)) if (buildChanged(b, active, next) || !(await exists(env, b.tag))) builds.push(b);
  return { pulls, builds };
}

/**
 * Pull every missing image and build every build in `todo`; `genRoot` is the directory
 * holding the new generation's tree (its build contexts, not yet switched to). Any
 * failure throws an ImageError naming the image and podman's error.
 */
export async function fetchImages(env: ImageEnv, genRoot: string, todo: { pulls: string[]; builds: BuildSpec[] }, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<void> {
  const total = todo.pulls.length + todo.builds.length;
  let n = 0;
  for (const ref of todo.pulls) {
    n++;
    const t0 = Date.now();
    let last = "";
    for (let attempt = 1; attempt <= PULL_ATTEMPTS; attempt++) {
      env.log(`image ${n}/${total}: pulling ${ref}${attempt > 1 ? ` (attempt ${attempt}/${PULL_ATTEMPTS})` : ""}`);
      const r = await env.adapter.run("podman", ["pull", ref], { timeoutMs: PULL_TIMEOUT_MS });
      if (r.code === 0) {
        last = "";
        break;
      }
      last = `exit ${r.code}: ${tail(r.stderr || r.stdout)}`;
      // A reference the registry does not have will not appear on a retry.
      if (/manifest unknown|name unknown/i.test(r.stderr) || attempt === PULL_ATTEMPTS) break;
      const wait = (env.pullBackoffMs ?? 2000) * 2 ** (attempt - 1);
      env.log(`image ${ref}: pull failed (${last.split("\n")[0]}); retrying in ${secs(wait)}`);
      await sleep(wait);
    }
    if (last) throw new ImageError(`could not pull image ${ref} (${secs(Date.now() - t0)}); nothing was switched, running services are untouched:\npodman pull ${ref}: ${last}`);
    env.log(`image ${n}/${total}: pulled ${ref} in ${secs(Date.now() - t0)}`);
    await remember(env, ref, "pulled");
  }
  for (const b of todo.builds) {
    n++;
    const t0 = Date.now();
    const inGen = (p: string) => join(genRoot, p);
    const args = ["build", "--tag", b.tag, ...b.labels.flatMap((l) => ["--label", l]), "--file", inGen(b.file), inGen(b.context)];
    env.log(`image ${n}/${total}: building ${b.tag} (${b.unit.slice(b.unit.lastIndexOf("/") + 1)})`);
    const r = await env.adapter.run("podman", args, { timeoutMs: BUILD_TIMEOUT_MS });
    if (r.code !== 0) throw new ImageError(`could not build image ${b.tag} from ${b.context} (${secs(Date.now() - t0)}); nothing was switched, running services are untouched:\npodman build: exit ${r.code}: ${tail(r.stderr || r.stdout)}`);
    env.log(`image ${n}/${total}: built ${b.tag} in ${secs(Date.now() - t0)}`);
    await remember(env, b.tag, "built");
  }
}

// ---- the record of what archy-quadlet pulled or built ----------------------

export interface ImageEntry {
  ref: string;
  id: string;
  source: "pulled" | "built";
  time: string;
}

export const recordPath = (root: string) => join(statePaths(root).state, "images.json");

export function readRecord(root: string): ImageEntry[] {
  try {
    const d = JSON.parse(readFileSync(recordPath(root), "utf8")) as { images?: ImageEntry[] };
    return Array.isArray(d.images) ? d.images.filter((e) => typeof e?.ref === "string" && typeof e?.id === "string") : [];
  } catch {
    return [];
  }
}

function writeRecord(root: string, images: ImageEntry[]): void {
  writeFileAtomic(recordPath(root), JSON.stringify({ images }, null, 2) + "\n", 0o644);
}

async function imageId(env: ImageEnv, ref: string): Promise<string | undefined> {
  const r = await env.adapter.run("podman", ["image", "inspect", "--format", "{{.Id}}", ref], { timeoutMs: 60_000 });
  const id = r.stdout.trim().split("\n")[0]?.trim();
  return r.code === 0 && id ? id : undefined;
}

async function remember(env: ImageEnv, ref: string, source: ImageEntry["source"]): Promise<void> {
  const id = await imageId(env, ref);
  if (!id) {
    env.log(`warning: podman image inspect ${ref} gave no ID: not recorded for cleanup`);
    return;
  }
  const rec = readRecord(env.root).filter((e) => !(e.ref === ref && e.id === id));
  rec.push({ ref, id, source, time: new Date().toISOString() });
  writeRecord(env.root, rec);
}

/** Every reference a kept generation (or the tree active under /etc) needs, with how many of them need it. */
export function keptReferences(root: string): Map<string, number> {
  const refs = new Map<string, number>();
  const trees = [...listGenerations(root).map((g) => readGeneration(root, g.id)), readActiveTree(root)];
  for (const t of trees) for (const r of referencedImages(t)) refs.set(r, (refs.get(r) ?? 0) + 1);
  return refs;
}

/**
 * Remove, by ID, recorded images no kept generation references (and, of a reference
 * rebuilt or re-pulled, IDs older than the kept generations can need). Never an image
 * outside the record, never with --force, never a volume; an rmi that fails (a container
 * uses it) is a warning and the entry stays for the next cleanup.
 */
export async function cleanupImages(env: ImageEnv): Promise<{ removed: ImageEntry[]; kept: ImageEntry[] }> {
  const rec = readRecord(env.root);
  if (rec.length === 0) return { removed: [], kept: [] };
  const refs = keptReferences(env.root);
  const keep = new Set<ImageEntry>();
  const byRef = new Map<string, ImageEntry[]>();
  for (const e of rec) byRef.set(e.ref, [...(byRef.get(e.ref) ?? []), e]);
  for (const [ref, es] of byRef) {
    const need = refs.get(ref) ?? 0;
    for (const e of [...es].sort((a, b) => cmp(b.time, a.time)).slice(0, need)) keep.add(e);
  }
  const keptIds = new Set([...keep].map((e) => e.id));
  const removed: ImageEntry[] = [];
  const stays: ImageEntry[] = [];
  for (const e of rec) {
    if (keep.has(e) || keptIds.has(e.id)) {
      if (!keep.has(e) && keptIds.has(e.id)) continue; // the same image under a kept entry: drop the duplicate entry only
      stays.push(e);
      continue;
    }
    const r = await env.adapter.run("podman", ["rmi", e.id], { timeoutMs: 300_000 });
    if (r.code === 0 || /image not known|no such image/i.test(r.stderr)) {
      env.log(`cleanup: removed image ${e.ref} (${e.id.slice(0, 12)}), no kept generation uses it`);
      removed.push(e);
    } else {
      env.log(`warning: cleanup: could not remove image ${e.ref} (${e.id.slice(0, 12)}): ${r.stderr.trim().split("\n")[0] ?? `exit ${r.code}`}; trying again next time`);
      stays.push(e);
    }
  }
  if (stays.length !== rec.length) writeRecord(env.root, stays);
  return { removed, kept: stays };
}

/** Cleanup that never fails the run it follows: a problem is a warning. */
export async function cleanupQuietly(env: ImageEnv): Promise<void> {
  try {
    await cleanupImages(env);
  } catch (e) {
    env.log(`warning: image cleanup failed: ${(e as Error).message}`);
  }
}

/**
 * The step between preflight and switch: the disk guard (`always`, or only when
 * something must be fetched: a rollback whose images are all on disk needs neither
 * space nor network), then pulls and builds. Throws (exit 3) before anything switched.
 */
export async function stageImages(
  env: ImageEnv & DiskEnv,
  genRoot: string,
  next: Tree,
  active: Tree,
  minFree: number,
  guard: "always" | "when-fetching",
): Promise<{ pulls: string[]; builds: BuildSpec[] }> {
  if (guard === "always") await checkDisk(env, next, minFree);
  const todo = await missingImages(env, next, active);
  if (todo.pulls.length + todo.builds.length === 0) {
    env.log(`images: all ${imageRefs(next).length + buildSpecs(next).length} present locally`);
    return todo;
  }
  if (guard === "when-fetching") await checkDisk(env, next, minFree);
  await fetchImages(env, genRoot, todo);
  return todo;
}

/**
 * Disk space the kept generations' images hold, from one `podman images --format json`
 * (a reference matches an image's Names, or its RepoDigests when pinned by digest; an
 * image shared by several references counts once). null when podman cannot say.
 */
export async function keptImageSpace(root: string, adapter: SystemAdapter): Promise<{ bytes: number; images: number; missing: string[] } | null> {
  const refs = [...keptReferences(root).keys()];
  if (refs.length === 0) return { bytes: 0, images: 0, missing: [] };
  const r = await adapter.run("podman", ["images", "--format", "json"], { timeoutMs: 60_000 });
  let list: { Id?: string; Names?: string[] | null; RepoDigests?: string[] | null; Size?: number }[];
  try {
    list = JSON.parse(r.stdout) as typeof list;
    if (r.code !== 0 || !Array.isArray(list)) return null;
  } catch {
    return null;
  }
  const seen = new Map<string, number>();
  const missing: string[] = [];
  for (const ref of refs) {
    const at = ref.indexOf("@");
    const byDigest = at > 0 ? `${ref.slice(0, at).replace(/:[^/:]+$/, "")}${ref.slice(at)}` : undefined;
    const img = list.find((i) => (byDigest ? (i.RepoDigests ?? []).includes(byDigest) : false) || (i.Names ?? []).includes(ref));
    if (!img?.Id) missing.push(ref);
    else seen.set(img.Id, typeof img.Size === "number" ? img.Size : 0);
  }
  return { bytes: [...seen.values()].reduce((a, b) => a + b, 0), images: seen.size, missing };
}
