// apply / rollback / reconcile: the only code that changes a node. Everything
// is computed first (compile, plan, preflight); then one rename switches.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { fingerprint } from "./fingerprint.js";
import { SecretStore } from "../configs/secrets.js";
import { UserError, cmp } from "../manifest/diagnostics.js";
import { Failure } from "../outcome.js";
import { parseVersion, type Version } from "../lower/versions.js";
import { UNIT_DIR, type OutputFile } from "../lower/lower.js";
import type { SystemAdapter } from "./adapter.js";
import { quadletBin, quadletDryRun } from "../unit/quadlet.js";
import { computePlan, formatPlan, serviceOf, type Plan, type Step, type Tree } from "./plan.js";
import {
  alignStateLink, collectGarbage, currentId, garbage, ensureStableLinks, ensureStateDir, genDir, listGenerations, prune, readActiveTree,
  readGeneration, readMeta, stateLinkInLine, statePaths, switchCurrent, toTree, treeHash, writeGeneration, writeMeta, type GenMeta, type GenState,
} from "./state.js";
import { acquireLock, lockHeld } from "./lock.js";
import { writeFileAtomic } from "../atomic.js";
import { cleanupQuietly, stageImages } from "./images.js";
import { DEFAULT_MIN_FREE_DISK, parseSize, recordedMinFree } from "./disk.js";

export const DEFAULT_KEEP = 3;
export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

/** A step of apply/rollback/reconcile that cannot go on: "invalid" (the request) or "failed" (the system). */
export class ApplyError extends Failure {
  constructor(message: string, kind: "invalid" | "failed" = "failed") {
    super(kind, message);
  }
}

export interface Inputs {
  manifests: string;
  select?: string;
  secrets: string;
  podman?: string;
  keep: number;
}

export interface Env {
  root: string;
  adapter: SystemAdapter;
  log: (line: string) => void;
  quadlet?: string;
  lockTimeoutMs?: number;
  /** Tests: free bytes of the file system holding a path (default statfs; src/apply/disk.ts). */
  freeBytes?: (path: string) => number;
  /** Tests: base delay before a failed pull is retried (default 2000 ms; src/apply/images.ts). */
  pullBackoffMs?: number;
}

export interface ApplyResult {
  noop: boolean;
  plan: Plan;
  generation?: number;
  failures: { unit: string; error: string }[];
}

function manifestHash(inputs: Inputs): string {
  const h = createHash("sha256");
  for (const n of readdirSync(inputs.manifests).filter((x) => /\.ya?ml$/.test(x)).sort(cmp)) {
    h.update(`${n}\0`).update(readFileSync(join(inputs.manifests, n)));
  }
  if (inputs.select) h.update("\0select\0").update(readFileSync(inputs.select));
  return h.digest("hex").slice(0, 16);
}

async function compileFor(inputs: Inputs, podman: Version | undefined) {
  // Loaded on first use: a reconcile with nothing to do never initialises the compiler (zod, yaml).
  const { compile } = await import("../plan/inputs.js");
  const secrets = new SecretStore(inputs.secrets);
  const r = compile({ manifests: inputs.manifests, select: inputs.select, podman, secrets });
  if (r.diagnostics.length > 0) throw new UserError(r.diagnostics);
  return { files: r.files, secrets, graph: r.graph };
}

async function withLock<T>(env: Env, fn: () => Promise<T>): Promise<T> {
  ensureStateDir(env.root);
  const release = await acquireLock(statePaths(env.root).state, env.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS, (pid) =>
    env.log(`waiting for lock held by ${pid ? `pid ${pid}` : "another process"} (another apply, rollback or reconcile)`),
  );
  try {
    return await fn();
  } finally {
    await release();
  }
}

/** Run real quadlet in dry-run mode on a generation; any error aborts before the switch. */
export async function preflight(env: Env, dir: string, tree: Tree): Promise<void> {
  const r = await quadletDryRun(env.adapter, quadletBin(env.quadlet), join(dir, "etc/containers/systemd"));
  const missing = [...tree.keys()]
    .filter((p) => p.startsWith(`${UNIT_DIR}/`) && serviceOf(p))
    .map((p) => serviceOf(p)!)
    .filter((svc) => !r.services.has(svc));
  if (r.code !== 0 || r.errors.length > 0 || missing.length > 0) {
    const detail = [r.stderr.trim(), missing.length ? `quadlet produced no service for: ${missing.join(", ")}` : ""].filter(Boolean).join("\n");
    throw new ApplyError(`quadlet rejected the new generation (exit ${r.code}); nothing was switched:\n${detail}`);
  }
}

async function systemctl(env: Env, args: string[]): Promise<{ ok: boolean; error: string }> {
  const r = await env.adapter.run("systemctl", args, { timeoutMs: 30 * 60_000 });
  return { ok: r.code === 0, error: (r.stderr || r.stdout).trim() };
}

/** Execute steps in order; a failed unit's dependents are skipped, independent ones go on. */
async function execute(env: Env, plan: Plan, next: Tree): Promise<{ unit: string; error: string }[]> {
  const failures: { unit: string; error: string }[] = [];
  const failed = new Set<string>();
  // Units that disappear are stopped while systemd still has them loaded; after
  // daemon-reload a stopped-but-removed unit is simply "not loaded".
  const remaining = new Set([...next.keys()].map((p) => serviceOf(p) ?? p.slice(p.lastIndexOf("/") + 1)));
  const early = plan.steps.filter((s) => s.action === "stop" && !remaining.has(s.unit));
  const rest = plan.steps.filter((s) => !early.includes(s));
  const after = afterMap(next);
  const steps: (Step | "daemon-reload")[] = [...early, ...(plan.daemonReload ? (["daemon-reload"] as const) : []), ...rest];
  for (const s of steps) {
    if (s === "daemon-reload") {
      const r = await systemctl(env, ["daemon-reload"]);
      if (!r.ok) {
        failures.push({ unit: "daemon-reload", error: r.error });
        return failures;
      }
      continue;
    }
    if (s.action === "network-rm") {
      env.log(`podman network rm ${s.network}`);
      const r = await env.adapter.run("podman", ["network", "rm", "--force", s.network], { timeoutMs: 120_000 });
      if (r.code !== 0 && !/network not found|no such network/i.test(r.stderr)) failures.push({ unit: `network ${s.network}`, error: r.stderr.trim() });
      continue;
    }
    const blocker = s.action !== "stop" ? [...(after.get(s.unit) ?? [])].find((d) => failed.has(d)) : undefined;
    if (blocker) {
      env.log(`skip ${s.unit}: dependency ${blocker} failed`);
      failures.push({ unit: s.unit, error: `skipped: dependency ${blocker} failed` });
      failed.add(s.unit);
      continue;
    }
    env.log(`${s.action} ${s.unit} (${s.why})`);
    const r = await systemctl(env, [s.action, s.unit]);
    if (!r.ok && !(s.action === "stop" && /not loaded/.test(r.error))) {
      env.log(`${s.action} ${s.unit} failed: ${r.error.split("\n")[0] ?? ""}`);
      failures.push({ unit: s.unit, error: r.error });
      failed.add(s.unit);
    }
  }
  return failures;
}

function afterMap(tree: Tree): Map<string, Set<string>> {
  const m = new Map<string, Set<string>>();
  for (const [p, f] of tree) {
    if (!p.endsWith(".container")) continue;
    const set = new Set<string>();
    for (const x of f.content.toString("utf8").matchAll(/^After=(\S+)$/gm)) set.add(x[1]!);
    m.set(serviceOf(p)!, set);
  }
  return m;
}

/** The current generation's id and the tree the node runs now (the copy under /etc, hand edits included). */
function activeTree(root: string): { id?: number; tree: Tree } {
  return { id: currentId(root), tree: readActiveTree(root) };
}

function otaFallback(root: string): number | undefined {
  try {
    const m = JSON.parse(readFileSync(join(statePaths(root).ota, "pending.json"), "utf8")) as { fallback?: number };
    return typeof m.fallback === "number" ? m.fallback : undefined;
  } catch {
    return undefined;
  }
}

function otaPending(root: string): boolean {
  return existsSync(join(statePaths(root).ota, "pending.json"));
}

function saveInputs(root: string, inputs: Inputs): void {
  writeFileAtomic(statePaths(root).inputs, JSON.stringify(inputs, null, 2) + "\n", 0o644);
}

export function loadInputs(root: string): Inputs {
  try {
    return JSON.parse(readFileSync(statePaths(root).inputs, "utf8")) as Inputs;
  } catch {
    throw new ApplyError(`no recorded inputs at ${statePaths(root).inputs}: run apply once first`, "invalid");
  }
}

function checkRoot(root: string): void {
  let ok = false;
  try {
    ok = statSync(root).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new ApplyError(`target root ${root} does not exist or is not a directory`, "invalid");
}

/** Switch to `next` (already written as generation id), then restart exactly what the plan says. */
async function activate(env: Env, plan: Plan, id: number, next: Tree): Promise<{ unit: string; error: string }[]> {
  ensureStableLinks(env.root);
  switchCurrent(env.root, id);
  env.log(`switched to generation ${id}`);
  return execute(env, plan, next);
}

export async function apply(env: Env, inputs: Inputs, opts: { dryRun?: boolean; podman?: Version; notRolledBack?: boolean; replaceForeign?: string[]; fetchOnly?: boolean } = {}): Promise<ApplyResult> {
  checkRoot(env.root);
  inputs = { ...inputs, manifests: resolve(inputs.manifests), select: inputs.select && resolve(inputs.select), secrets: resolve(inputs.secrets) };
  const { files, secrets, graph } = await compileFor(inputs, opts.podman);
  refuseShadowing(env.root, files);
  const next = toTree(files);

  const decide = () => {
    const active = activeTree(env.root);
    const base = planBase(env.root, active);
    const missingLinks = ensureStableLinks(env.root, true);
    const plan = computePlan(base.tree, next);
    const noop = !base.resume && plan.changed.length === 0 && missingLinks.length === 0 && !secrets.hasPending();
    return { active, base, plan, noop };
  };
  const report = (d: ReturnType<typeof decide>): ApplyResult => {
    env.log(d.noop ? `generation ${d.active.id} is up to date: nothing to do` : formatPlan(d.plan));
    return { noop: d.noop, plan: d.plan, generation: d.active.id, failures: [] };
  };

  // First without the lock: a dry run, a refusal or a no-op (the common case) writes
  // nothing at all, not even the lock file. A no-op seen this way holds only if no one
  // held the lock meanwhile and no crash left anything to collect.
  const seen = currentId(env.root);
  const probe = decide();
  if (opts.dryRun) return report(probe);
  const tidy = () => garbage(env.root).length === 0 && stateLinkInLine(env.root) && (seen === undefined || pruneGenerations(env, inputs.keep, seen, true).length === 0);
  if (probe.noop && !opts.fetchOnly && !(await lockHeld(statePaths(env.root).state)) && tidy() && currentId(env.root) === seen) return report(probe);

  return withLock(env, async (): Promise<ApplyResult> => {
    collectGarbage(env.root);
    alignStateLink(env.root);
    // reconcile decides without the lock; a rollback may have finished while it waited for it.
    const undone = opts.notRolledBack ? rolledBackFrom(env.root, treeHash(next)) : undefined;
    if (undone) {
      env.log(`inputs describe generation ${undone.id}, which failed and was rolled back; not re-applying (fix the release, then run apply)`);
      return { noop: true, plan: computePlan(new Map(), new Map()), generation: currentId(env.root), failures: [] };
    }
    const d = decide();
    const minFree = parseSize(graph?.selection?.settings.min_free_disk ?? DEFAULT_MIN_FREE_DISK)!;
    if (opts.fetchOnly) {
      // Pre-stage a release (the OTA installer): the generation is written only for its build contexts, then dropped.
      const tmpId = Math.max(0, ...listGenerations(env.root).map((g) => g.id), d.active.id ?? 0) + 1;
      writeGeneration(env.root, tmpId, files, { id: tmpId, time: new Date().toISOString(), manifestHash: manifestHash(inputs), treeHash: treeHash(next), state: "applied" });
      try {
        await preflight(env, genDir(env.root, tmpId), next);
        await stageImages(env, genDir(env.root, tmpId), next, d.base.tree, minFree, "always");
      } finally {
        rmSync(genDir(env.root, tmpId), { recursive: true, force: true });
      }
      env.log("fetch-only: every image the new generation needs is local; nothing was switched");
      return { noop: true, plan: d.plan, generation: d.active.id, failures: [] };
    }
    if (d.noop) {
      // Nothing to switch, but a crash may have cut the last apply short before it pruned.
      if (d.active.id !== undefined) pruneGenerations(env, inputs.keep, d.active.id);
      return report(d);
    }
    const { active, base, plan } = d;

    let id: number;
    let meta: GenMeta;
    let failures: { unit: string; error: string }[];
    if (base.resume && treeHash(active.tree) === treeHash(next)) {
      // The current generation already holds exactly this tree: finish its activation in place.
      id = base.resume.id;
      meta = base.resume;
      env.log(`generation ${id} was switched to but its activation did not finish: resuming\n${formatPlan(plan)}`);
      ensureStableLinks(env.root);
      // As the interrupted run did before its switch: the same checks, the takeover if it was cut short.
      const { adoptPreflight, takeOver } = await import("../adopt/preflight.js");
      await adoptPreflight(env, graph, new Set([...next.keys()].filter((p) => !base.tree.has(p)).map((p) => serviceOf(p) ?? "")), opts.replaceForeign);
      await takeOver(env, graph?.selection, id);
      failures = await execute(env, plan, next);
    } else {
      env.log(formatPlan(plan));
      id = Math.max(0, ...listGenerations(env.root).map((g) => g.id), active.id ?? 0) + 1;
      meta = { id, time: new Date().toISOString(), manifestHash: manifestHash(inputs), treeHash: treeHash(next), state: "applied", from: base.id };
      secrets.persist();
      writeGeneration(env.root, id, files, meta);
      try {
        await preflight(env, genDir(env.root, id), next);
        // Before the switch, so a link that cannot be made leaves no never-activated generation behind.
        ensureStableLinks(env.root);
        // An adopted node's data must be there, no foreign container is replaced unseen, and the old
        // system's units stop before ours start (docs/adopt.md).
        const { adoptPreflight, takeOver } = await import("../adopt/preflight.js");
        await adoptPreflight(env, graph, new Set([...next.keys()].filter((p) => !base.tree.has(p)).map((p) => serviceOf(p) ?? "")), opts.replaceForeign);
        // Every image present before anything stops (issue 15): a failed pull or build switches nothing.
        await stageImages(env, genDir(env.root, id), next, base.tree, minFree, "always");
        await takeOver(env, graph?.selection, id);
      } catch (e) {
        rmSync(genDir(env.root, id), { recursive: true, force: true });
        throw e;
      }
      failures = await activate(env, plan, id, next);
    }
    saveInputs(env.root, inputs);
    const state: GenState = failures.length ? "failed" : otaPending(env.root) ? "pending" : "good";
    writeMeta(env.root, { ...meta, state, note: failures.length ? `failed: ${failures.map((f) => f.unit).join(", ")}` : undefined, fingerprint: inputFingerprint(inputs) });
    pruneGenerations(env, inputs.keep, id);
    // With no release pending verification, a good apply ends superseded images (ota verify does it otherwise).
    if (state === "good") await cleanupQuietly(env);
    return { noop: false, plan, generation: id, failures };
  });
}

/**
 * The tree to plan from. A current generation still in state "applied" was switched to
 * but its activation was cut short (a crash before the restarts finished): plan from the
 * generation active before it, so the reload and restarts it never made are made now.
 */
function planBase(root: string, active: { id?: number; tree: Tree }): { id?: number; tree: Tree; resume?: GenMeta } {
  const m = active.id !== undefined ? readMeta(root, active.id) : undefined;
  if (m?.state !== "applied") return active;
  const prev = m.from !== undefined && readMeta(root, m.from) ? readGeneration(root, m.from) : new Map();
  return { id: m.from, tree: prev, resume: m };
}

/** Keep the newest `keep` generations plus `id` (the current one) and the OTA fallback. */
function pruneGenerations(env: Env, keep: number, id: number, dryRun = false): number[] {
  const fb = otaFallback(env.root);
  const removed = prune(env.root, keep, new Set([id, ...(fb !== undefined ? [fb] : [])]), dryRun);
  if (removed.length && !dryRun) env.log(`pruned generation${removed.length > 1 ? "s" : ""} ${removed.join(", ")}`);
  return removed;
}

export async function rollback(env: Env, to?: number, opts: { markFailed?: string } = {}): Promise<ApplyResult> {
  checkRoot(env.root);
  return withLock(env, async () => {
    const cur = currentId(env.root);
    const gens = listGenerations(env.root);
    const earlier = to ?? [...gens].reverse().find((g) => cur !== undefined && g.id < cur && g.state !== "failed")?.id;
    // Generation 0 is no generation at all (an empty tree): `--to 0`, or past a takeover the first generation made (docs/adopt.md).
    const target = earlier === undefined || earlier === 0 ? (await import("../adopt/preflight.js")).noGeneration(env.root, cur, earlier === 0) : earlier;
    if (target === undefined) throw new ApplyError("no earlier generation to roll back to");
    if (target === cur) throw new ApplyError(`generation ${target} is already current`);
    if (!readMeta(env.root, target)) throw new ApplyError(`generation ${target} does not exist (see: archy-quadlet generations)`, "invalid");
    const active = activeTree(env.root);
    const next = readGeneration(env.root, target);
    const plan = computePlan(active.tree, next);
    env.log(`rollback ${cur ?? "-"} → ${target}\n${formatPlan(plan)}`);
    await preflight(env, genDir(env.root, target), next);
    // Kept generations' images stay on disk: offline, this checks and fetches nothing.
    await stageImages(env, genDir(env.root, target), next, active.tree, await recordedMinFree(env.root), "when-fetching");
    if (cur !== undefined) {
      const m = readMeta(env.root, cur);
      // Leaving a newer generation marks it failed, so reconcile (which recompiles the
      // inputs that produced it) does not re-apply it and undo the rollback. Marked before
      // the switch: a reconcile that looks while the rollback's restarts run (they may take
      // minutes) must already see it failed.
      if (m && (opts.markFailed || target < cur)) writeMeta(env.root, { ...m, state: "failed", note: opts.markFailed ?? `rolled back to ${target}` });
      else if (m) writeMeta(env.root, { ...m, note: `rolled back to ${target}` });
    }
    const failures = await activate(env, plan, target, next);
    const back = await (await import("../adopt/preflight.js")).giveBack(env, target);
    if (back) failures.push({ unit: "takeover", error: back });
    return { noop: false, plan, generation: target, failures };
  });
}

/**
 * Level-triggered repair: recompile from the recorded inputs and apply only on
 * drift. After a rollback, inputs that still describe the generation rolled
 * back from are not re-applied (that would undo the rollback).
 */
/**
 * A generated service named like one the system already has (ssh, dbus, …) would
 * replace it: generator output outranks /usr/lib. Checked against the target root.
 */
function refuseShadowing(root: string, files: OutputFile[]): void {
  const clashes: string[] = [];
  for (const f of files) {
    const svc = f.path.startsWith(`${UNIT_DIR}/`) ? serviceOf(f.path) : undefined;
    if (!svc) continue;
    for (const dir of ["usr/lib/systemd/system", "lib/systemd/system", "etc/systemd/system"]) {
      if (existsSync(join(root, dir, svc))) clashes.push(`${svc} (/${dir}/${svc})`);
    }
  }
  if (clashes.length) throw new ApplyError(`refusing to shadow the system's own units: ${clashes.join(", ")} — rename the app or container`, "invalid");
}

function inputFingerprint(inputs: Inputs): string | undefined {
  return fingerprint(inputs);
}

export async function reconcile(env: Env): Promise<ApplyResult | undefined> {
  const inputs = loadInputs(env.root);
  // Every 30 s: when the inputs are exactly those of the current generation and its
  // files still hash as written, there is no drift and nothing to compile.
  const cur0 = currentId(env.root);
  const meta0 = cur0 !== undefined ? readMeta(env.root, cur0) : undefined;
  const fp = inputFingerprint(inputs);
  if (fp && meta0?.fingerprint === fp && meta0.state !== "applied" && treeHash(activeTree(env.root).tree) === meta0.treeHash && ensureStableLinks(env.root, true).length === 0) {
    return undefined;
  }
  const podman = inputs.podman ? parseVersion(inputs.podman) : undefined;
  const { files } = await compileFor(inputs, podman);
  const next = toTree(files);
  const cur = currentId(env.root);
  const curMeta = cur !== undefined ? readMeta(env.root, cur) : undefined;
  const undone = rolledBackFrom(env.root, treeHash(next));
  if (undone) {
    env.log(`inputs describe generation ${undone.id}, which failed and was rolled back; not re-applying (fix the release, then run apply)`);
    return undefined;
  }
  const active = activeTree(env.root);
  const drift = computePlan(active.tree, next).changed.length > 0 || ensureStableLinks(env.root, true).length > 0;
  // A current generation still "applied" never finished activating: apply resumes it.
  if (!drift && curMeta && curMeta.state !== "applied") return undefined;
  env.log("drift found: applying");
  return apply(env, inputs, { podman, notRolledBack: true });
}

/** A newer generation with this tree that failed and was rolled back from, if any. */
function rolledBackFrom(root: string, hash: string): GenMeta | undefined {
  const cur = currentId(root);
  return listGenerations(root).find((g) => g.treeHash === hash && cur !== undefined && g.id > cur && g.state === "failed");
}

export function describeGenerations(root: string): (GenMeta & { current: boolean })[] {
  const cur = currentId(root);
  return listGenerations(root).map((g) => ({ ...g, current: g.id === cur }));
}

