// Crash safety: SIGKILL `apply` right after its N-th mutating filesystem
// operation (ARCHY_QUADLET_CRASH_AFTER=N) at many points, and check that
//  - the tree the system sees through the root's stable links is exactly the
//    old or the new generation's tree, and `current` names a complete generation;
//    no link resolves into /var (the boot-time view lives on the root file system);
//  - a normal apply afterwards succeeds, collects what the crash left (no
//    .tmp-*, no stray copy under etc/archy-quadlet/active, the state dir's `current`
//    agreeing with the switch), leaves the new tree active, and makes every reload/restart the
//    interrupted apply owed (none lost, even when the crash came after the switch).
//
// ARCHY_QUADLET_CRASH_POINTS (default 200) sets the number of crash points;
// ARCHY_QUADLET_CRASH_SEED replays a run; ARCHY_QUADLET_CRASH_PARALLEL sets how many run at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { availableParallelism } from "node:os";
import { cpSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { apply } from "../../src/apply/apply.js";
import { ACTIVE, activeLink, linksIntoVar, toLegacyLayout } from "./layout.js";
import { currentId, listGenerations, readGeneration, readMeta, treeHash } from "../../src/apply/state.js";
import { CLI, FIXTURES, STATE, cleanup, currentLink, edit, logged, runCli, show, testEnv, viewHash, workspace, type Workspace } from "./helpers.js";

const POINTS = Number(process.env.ARCHY_QUADLET_CRASH_POINTS ?? 200);
const SEED = Number(process.env.ARCHY_QUADLET_CRASH_SEED ?? Date.now() % 2 ** 31);
const PARALLEL = Number(process.env.ARCHY_QUADLET_CRASH_PARALLEL ?? Math.max(2, Math.min(8, availableParallelism())));

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Scenario {
  name: string;
  /** a root to copy before each crash run */
  template: string;
  oldHash: string;
  newHash: string;
  /** the calls a clean apply makes */
  calls: string[];
  /** mutating fs ops of a clean apply: crash points are 1..ops */
  ops: number;
  /** starts on the earlier layout: links into /var are the old state until migrated */
  legacy: boolean;
}

let ws: Workspace;
let B: string;
const scenarios: Scenario[] = [];
let copies = 0;

function copyRoot(template: string): string {
  const dest = join(ws.dir, `run-${++copies}`);
  cpSync(template, dest, { recursive: true, verbatimSymlinks: true });
  return dest;
}

const applyB = (root: string, log: string, crashAfter?: number) =>
  runCli(["apply", "--root", root, "--manifests", B, "--secrets", ws.secrets], { log, env: crashAfter ? { ARCHY_QUADLET_CRASH_AFTER: String(crashAfter) } : {} });

/** The number of mutating fs ops a clean apply makes: crash points are 1..that. */
async function countOps(template: string): Promise<number> {
  const root = copyRoot(template);
  const file = `${root}.fsops`;
  const r = await runCli(["apply", "--root", root, "--manifests", B, "--secrets", ws.secrets], { log: `${root}.log`, env: { ARCHY_QUADLET_COUNT_FSOPS: file } });
  expect(r.code, r.stderr).toBe(0);
  const n = Number(readFileSync(file, "utf8"));
  // The hook really fires at the last one and not after it.
  expect((await applyB(copyRoot(template), `${root}.last.log`, n)).signal).toBe("SIGKILL");
  expect((await applyB(copyRoot(template), `${root}.past.log`, n + 1)).code).toBe(0);
  return n;
}

async function scenario(name: string, template: string, legacy = false): Promise<Scenario> {
  const oldHash = viewHash(template);
  const ref = copyRoot(template);
  const log = `${ref}.log`;
  const r = await applyB(ref, log);
  expect(r.code, r.stderr).toBe(0);
  const s = { name, template, oldHash, newHash: viewHash(ref), calls: show(logged(log)), ops: await countOps(template), legacy };
  expect(s.newHash).not.toBe(s.oldHash);
  expect(s.calls.length).toBeGreaterThan(2);
  return s;
}

beforeAll(async () => {
  ws = workspace();
  // B differs from A everywhere: an app removed, one added, a build context and a version changed.
  B = join(ws.dir, "B");
  cpSync(ws.manifests, B, { recursive: true });
  rmSync(join(B, "web.yaml"));
  cpSync(join(FIXTURES, "extra/extra.yaml"), join(B, "extra.yaml"));
  const wsB = { ...ws, manifests: B };
  edit(wsB, "build/ui/index.html", () => "<h1>ui v2</h1>\n");
  edit(wsB, "indexer.yaml", (s) => s.replace('version: "1.0"', 'version: "1.1"'));

  // Scenario 1: the very first apply on an empty root (old = nothing at all).
  const empty = join(ws.dir, "template-empty");
  cpSync(ws.root, empty, { recursive: true });
  // Scenario 2: a root with history (A, A', A): the apply of B also prunes generation 1.
  const hist = join(ws.dir, "template-history");
  cpSync(ws.root, hist, { recursive: true });
  const A2 = join(ws.dir, "A2");
  cpSync(ws.manifests, A2, { recursive: true });
  edit({ ...ws, manifests: A2 }, "web.yaml", (s) => s.replace('version: "1.0"', 'version: "1.1"'));
  for (const m of [ws.manifests, A2, ws.manifests]) {
    const r = await apply({ ...testEnv(ws), root: hist }, { manifests: m, secrets: ws.secrets, keep: 3 });
    expect(r.failures).toEqual([]);
  }
  expect(currentId(hist)).toBe(3);

  // Scenario 3: the same history on the layout before the active tree moved to /etc (links
  // into /var/lib/archy-quadlet/current): the apply of B migrates it on the way.
  const legacy = join(ws.dir, "template-legacy");
  cpSync(hist, legacy, { recursive: true, verbatimSymlinks: true });
  toLegacyLayout(legacy);
  expect(viewHash(legacy)).toBe(viewHash(hist));

  scenarios.push(await scenario("first apply", empty), await scenario("apply with history", hist), await scenario("migration from the earlier layout", legacy, true));
}, 300_000);

afterAll(cleanup);

describe("crash safety", () => {
  it(`SIGKILL at ${POINTS} points: the active tree is old or new, and the next apply recovers fully`, async () => {
    const rand = mulberry32(SEED);
    // Every point of every scenario once (shuffled), then random ones; or a random sample if fewer are asked for.
    const all = scenarios.flatMap((s) => Array.from({ length: s.ops }, (_, i) => ({ s, n: i + 1 })));
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    const points = all.slice(0, POINTS);
    while (points.length < POINTS) points.push(all[Math.floor(rand() * all.length)]!);

    const t0 = Date.now();
    const seen = { old: 0, new: 0 };
    const failures: string[] = [];
    const one = async ({ s, n }: { s: Scenario; n: number }) => {
      const where = `${s.name}, crash after fs op ${n}/${s.ops} (seed ${SEED})`;
      const root = copyRoot(s.template);
      const crashLog = `${root}.crash.log`;
      const r = await applyB(root, crashLog, n);
      if (r.signal !== "SIGKILL") return failures.push(`${where}: not killed (exit ${r.code}): ${r.stderr}`);

      // 1. What the system sees is exactly one whole generation: the old one or the new one.
      const h = viewHash(root);
      if (h === s.oldHash) seen.old++;
      else if (h === s.newHash) seen.new++;
      else return failures.push(`${where}: active tree is neither the old nor the new generation`);
      if (!s.legacy && linksIntoVar(root).length) return failures.push(`${where}: a stable link resolves into /var: ${linksIntoVar(root).join(", ")}`);
      const cur = currentId(root);
      if (cur !== undefined) {
        const meta = readMeta(root, cur);
        if (!meta) return failures.push(`${where}: current → generation ${cur}, which has no meta.json`);
        if (treeHash(readGeneration(root, cur)) !== h) return failures.push(`${where}: generation ${cur} differs from the view through the links`);
      } else if (h !== s.oldHash) return failures.push(`${where}: no current, yet the new tree is visible`);

      // 2. A normal apply recovers: succeeds, collects the debris, new tree active, no reload/restart lost.
      const env = { ...testEnv(ws), root };
      const rec = await apply(env, { manifests: B, secrets: ws.secrets, keep: 3 });
      if (rec.failures.length) return failures.push(`${where}: recovery apply failed: ${JSON.stringify(rec.failures)}`);
      if (viewHash(root) !== s.newHash) return failures.push(`${where}: after recovery the new tree is not active`);
      const gens = readdirSync(join(root, STATE, "generations"));
      const debris = [...gens.filter((g) => !/^\d+$/.test(g)), ...readdirSync(join(root, STATE)).filter((x) => /^(current\.|lock)/.test(x))];
      if (debris.length) return failures.push(`${where}: left behind: ${debris.join(", ")}`);
      const after = currentId(root)!;
      // Under /etc exactly one materialised tree, the current one, and the switch link; the state link agrees.
      const etc = readdirSync(join(root, ACTIVE)).sort();
      if (JSON.stringify(etc) !== JSON.stringify([String(after), "current"].sort())) return failures.push(`${where}: ${ACTIVE} holds ${etc.join(", ")}`);
      if (linksIntoVar(root).length) return failures.push(`${where}: after recovery a stable link resolves into /var: ${linksIntoVar(root).join(", ")}`);
      if (activeLink(root) !== String(after) || currentLink(root) !== `generations/${after}`) return failures.push(`${where}: links disagree: ${ACTIVE}/current → ${activeLink(root)}, ${STATE}/current → ${currentLink(root)}`);
      const metas = listGenerations(root);
      if (metas.length !== gens.length) return failures.push(`${where}: a generation dir without meta.json: ${gens.join(", ")}`);
      if (readMeta(root, after)!.state !== "good") return failures.push(`${where}: current generation is ${readMeta(root, after)!.state}`);
      if (metas.some((g) => g.state === "applied")) return failures.push(`${where}: a generation never activated is left: ${JSON.stringify(metas)}`);
      if (gens.length > 3) return failures.push(`${where}: not pruned to 3: ${gens.join(", ")}`);
      // Calls that change the system; read-only queries (apply's `podman ps` for foreign containers) are not owed.
      const acts = (xs: string[]) => xs.filter((c) => !c.startsWith("podman ps "));
      const recCalls = acts(show(env.adapter.calls));
      const crashCalls = acts(show(logged(crashLog)));
      const planned = acts(s.calls);
      const owed = JSON.stringify(recCalls) === JSON.stringify(planned) || (recCalls.length === 0 && JSON.stringify(crashCalls) === JSON.stringify(planned));
      if (!owed) return failures.push(`${where}: planned calls lost: crashed run made ${JSON.stringify(crashCalls)}, recovery made ${JSON.stringify(recCalls)}, a clean apply makes ${JSON.stringify(s.calls)}`);
      // 3. And it is stable: one more apply is a no-op.
      const again = { ...testEnv(ws), root };
      if (!(await apply(again, { manifests: B, secrets: ws.secrets, keep: 3 })).noop || acts(show(again.adapter.calls)).length) return failures.push(`${where}: a third apply is not a no-op`);
      rmSync(root, { recursive: true, force: true });
      return 0;
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < points.length) await one(points[next++]!);
      }),
    );
    const ms = Date.now() - t0;
    console.log(
      `[crash] ${points.length} crash points (${scenarios.map((s) => `${s.name}: ${s.ops} fs ops`).join("; ")}), ` +
        `${seen.old} old / ${seen.new} new, ${PARALLEL} at a time via the bundle, ${ms} ms, seed ${SEED}`,
    );
    expect(failures.slice(0, 10)).toEqual([]);
    expect(points.length).toBe(POINTS);
    expect(seen.old).toBeGreaterThan(0);
    expect(seen.new).toBeGreaterThan(0);
  }, 900_000);
});

