#!/usr/bin/env node
// npm run bench: whole-process timings of the CLI, the way a user or systemd
// runs it. Not a test: it prints a table, marks the held performance limits
// PASS/FAIL (start-up figures are reported without a target) and writes
// bench/results.json. Exit status is 0 unless a command
// that should succeed fails (a missed target is a result, not an error).
//
// Env: BENCH_RUNS (measured runs per row, default 15), BENCH_WARMUP (default 3),
// BENCH_RSS_RUNS (extra runs for peak RSS, default 3), BENCH_ONLY (comma-separated
// row ids; the floor always runs; results.json is then not written), BENCH_KEEP=1
// (keep the temp workspace), BENCH_BASELINE (a commit whose bundle the "baseline"
// rows run; default: the last commit before the config templates moved to
// handlebars, so the rows hold that move to "cold generate ≤ 10 % slower").
//
// Method
// - time: wall clock around spawnSync of a fresh `node` process (stdout/stderr
//   discarded); warm-up rounds, then measured rounds, each round running every
//   row once (interleaved, so load changes on a shared machine spread evenly);
//   median, min–max per row.
// - peak RSS: separate runs under GNU time (`/usr/bin/time -f %M`, the child's
//   ru_maxrss in KiB) when present; otherwise a `--import` preload that records
//   process.resourceUsage().maxRSS at exit. The table says which was used.
// - rows that write a tree get a new empty --out directory per run (created
//   outside the timing); the "up-to-date" rows rewrite nothing.
import { spawnSync } from "node:child_process";
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from "node:os";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { writeCatalog } from "./synth.mjs";
import { buildBundle, BUNDLE } from "../scripts/build.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const int = (v, d) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : d);
const RUNS = Math.max(1, int(process.env.BENCH_RUNS, 15));
const WARMUP = int(process.env.BENCH_WARMUP, 3);
const RSS_RUNS = Math.max(1, int(process.env.BENCH_RSS_RUNS, 3));
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",")) : undefined;
const node = process.execPath;
const bundle = BUNDLE;
const GNU_TIME = ["/usr/bin/time"].find((p) => existsSync(p) && spawnSync(p, ["-f", "%M", "true"], { stdio: "ignore" }).status === 0);

const log = (s) => process.stderr.write(`${s}\n`);

// The child environment: no inherited preloads or module paths.
const baseEnv = { ...process.env };
delete baseEnv.NODE_OPTIONS;
delete baseEnv.NODE_PATH;

// ---------------------------------------------------------------- setup
log("bench: building dist/archy-quadlet.mjs");
await buildBundle();
const bundleBytes = statSync(bundle).size;

const work = mkdtempSync(join(tmpdir(), "archy-bench-"));
const catalog = join(root, "manifests");
const catalogApps = readdirSync(catalog).filter((n) => /\.ya?ml$/.test(n)).length;
const synth = { 100: join(work, "synth-100"), 1000: join(work, "synth-1000") };
for (const [n, dir] of Object.entries(synth)) writeCatalog(Number(n), dir);
log(`bench: workspace ${work} (catalog: ${catalogApps} apps; synthetic: 100, 1000 apps)`);

// The baseline bundle: the same build (its own scripts/build.mjs) of an older
// commit, extracted with `git archive` (no checkout of this tree is touched) and
// run on its own catalog (manifests changed with it) and on the same synthetic
// 100-app catalog as today's bundle.
const BASELINE = process.env.BENCH_BASELINE ?? "f62e110^";
const baseline = await buildBaseline(BASELINE);
if (!baseline.bundle) log(`bench: baseline ${BASELINE}: ${baseline.error}`);

// Reference trees for the "no drift" / "up to date" rows.
const refOut = join(work, "ref-catalog");
must(run(["generate", "--manifests", catalog, "--out", refOut]), "generate reference tree");
const refOut1000 = join(work, "ref-1000");
must(run(["generate", "--manifests", synth[1000], "--out", refOut1000]), "generate 1000-app reference tree");

// apply: guarded, it is still being written.
const applyRoot = join(work, "apply-root");
const applyEnv = { ARCHY_QUADLET_ADAPTER: `record:${join(work, "apply-calls.log")}` };
let applyState = "ok";
if (spawnSync(node, [bundle, "apply", "--help"], { stdio: "ignore", env: baseEnv }).status !== 0) applyState = "apply: not available yet";
else {
  // Install once into a temp root through the recording adapter (systemctl is
  // never run for real) and a stand-in quadlet, so the measured dry run is a no-op.
  mkdirSync(applyRoot, { recursive: true });
  const fake = join(work, "fake-bin/quadlet");
  mkdirSync(dirname(fake), { recursive: true });
  writeFileSync(
    fake,
    `#!/bin/sh\n# bench stand-in for quadlet -dryrun: one ---<service>--- line per unit\nfind "$QUADLET_UNIT_DIRS" -type f | while read -r f; do b=\${f##*/}; case "$b" in *.container) echo "---\${b%.container}.service---";; *.build) echo "---\${b%.build}-build.service---";; *.network) echo "---\${b%.network}-network.service---";; esac; done\n`,
  );
  chmodSync(fake, 0o755);
  const setup = run(["apply", "--root", applyRoot, "--manifests", catalog, "--quadlet", fake], applyEnv);
  const probe = setup.status === 0 ? run(["apply", "--dry-run", "--json", "--root", applyRoot, "--manifests", catalog], applyEnv) : setup;
  let noop = false;
  try {
    noop = JSON.parse(probe.stdout).noop === true;
  } catch {}
  if (setup.status !== 0) applyState = `apply: setup failed (exit ${setup.status}): ${firstLine(setup.stderr || setup.stdout)}`;
  else if (probe.status !== 0 || !noop) applyState = `apply: dry run is not a no-op (exit ${probe.status})`;
}

// ---------------------------------------------------------------- rows
let seq = 0;
const fresh = (tag) => () => join(work, "out", `${tag}-${seq++}`);
const gen = (manifests, tag) => (out) => ["generate", "--manifests", manifests, "--out", out()];
const rows = [
  { id: "floor", label: "node -e 0 (floor)", argv: () => ["-e", "0"], raw: true },
  { id: "version", label: "--version (bundle: load + parse args)", argv: () => [bundle, "--version"], raw: true },
  { id: "gen-catalog", label: `generate catalog (${catalogApps} apps) → empty dir`, cli: "bundle", args: gen(catalog), out: fresh("gc") },
  { id: "gen-catalog-base", label: `generate catalog, baseline bundle ${baseline.rev ?? BASELINE} (its own catalog)`, cli: "baseline", args: (out) => ["generate", "--manifests", baseline.manifests, "--out", out()], out: fresh("gb"), unavailable: baseline.error },
  { id: "gen-catalog-same", label: "generate catalog → up-to-date dir", cli: "bundle", args: () => ["generate", "--manifests", catalog, "--out", refOut] },
  { id: "check-catalog", label: "check catalog, no drift", cli: "bundle", args: () => ["check", "--manifests", catalog, "--out", refOut] },
  // What every node runs every 30 s: inputs and active tree unchanged, so no compile.
  { id: "reconcile-noop", label: "reconcile, nothing to do (temp root)", cli: "bundle", args: () => ["reconcile", "--root", applyRoot], env: applyEnv, target: { ratio: 1.5 }, unavailable: applyState === "ok" ? undefined : applyState },
  { id: "apply-dry", label: "apply --dry-run, no change (temp root)", cli: "bundle", args: () => ["apply", "--dry-run", "--root", applyRoot, "--manifests", catalog], env: applyEnv, unavailable: applyState === "ok" ? undefined : applyState },
  { id: "gen-100", label: "generate 100 apps → empty dir", cli: "bundle", args: gen(synth[100]), out: fresh("g100") },
  { id: "gen-100-base", label: `generate 100 apps, baseline bundle ${baseline.rev ?? BASELINE}`, cli: "baseline", args: gen(synth[100]), out: fresh("gb100"), unavailable: baseline.error },
  { id: "gen-1000", label: "generate 1,000 apps → empty dir", cli: "bundle", args: gen(synth[1000]), out: fresh("g1000"), target: { rssMB: 150 } },
  { id: "check-1000", label: "check 1,000 apps, no drift", cli: "bundle", args: () => ["check", "--manifests", synth[1000], "--out", refOut1000] },
  // What compiling costs without writing a file, and what merely creating the same
  // 1,000-app tree costs this disk (cp -r of a generated copy): the floor under gen-1000.
  { id: "validate-100", label: "validate 100 apps (compile, no writes)", cli: "bundle", args: () => ["validate", "--manifests", synth[100]] },
  { id: "validate-1000", label: "validate 1,000 apps (compile, no writes)", cli: "bundle", args: () => ["validate", "--manifests", synth[1000]], target: { ms: 3000, rssMB: 150 } },
  { id: "cp-1000", label: "cp -r of the generated 1,000-app tree (disk floor)", argv: () => ["-e", `require("child_process").execFileSync("cp", ["-r", ${JSON.stringify(join(work, "ref-1000"))}, ${JSON.stringify(join(work, "cp-"))} + process.hrtime.bigint()])`], raw: true },
].filter((r) => !ONLY || ONLY.has(r.id) || r.id === "floor");

function argvOf(r) {
  if (r.raw) return r.argv();
  const args = r.args(r.out ?? (() => undefined));
  if (r.cli === "bundle") return [bundle, ...args];
  if (r.cli === "baseline") return [baseline.bundle, ...args];
  throw new Error(`bench: row ${r.id}: unknown cli ${r.cli}`);
}

// Rounds, not row after row: every round runs each row once, so a change in
// machine load (this box is shared) hits all rows alike instead of a few.
const active = rows.filter((r) => !r.unavailable);
for (const r of rows) if (r.unavailable) log(`bench: ${r.label}: ${r.unavailable}`);
const times = new Map(active.map((r) => [r, []]));
for (let round = 0; round < WARMUP + RUNS; round++) {
  log(`bench: round ${round + 1}/${WARMUP + RUNS}${round < WARMUP ? " (warm-up)" : ""}`);
  for (const r of active) {
    const argv = argvOf(r);
    const t0 = process.hrtime.bigint();
    const p = spawnSync(node, argv, { cwd: root, env: { ...baseEnv, ...(r.env ?? {}) }, stdio: ["ignore", "ignore", "pipe"] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    must(p, `${r.label}: node ${argv.map((a) => relative(root, a) || a).join(" ")}`);
    if (round >= WARMUP) times.get(r).push(ms);
    if (r.out) rmSync(join(work, "out"), { recursive: true, force: true }); // outside the timing
  }
}
log("bench: peak RSS");
const results = [];
for (const r of rows) {
  if (r.unavailable) {
    results.push({ ...pick(r), unavailable: r.unavailable });
    continue;
  }
  const rss = [];
  for (let i = 0; i < RSS_RUNS; i++) rss.push(peakRss(argvOf(r), { ...baseEnv, ...(r.env ?? {}) }));
  rmSync(join(work, "out"), { recursive: true, force: true });
  const t = times.get(r);
  const sorted = [...t].sort((a, b) => a - b);
  results.push({ ...pick(r), runs: t.map(round1), median: round1(median(sorted)), min: round1(sorted[0]), max: round1(sorted[sorted.length - 1]), peakRssMB: round1(Math.max(...rss) / 1024) });
}

// ---------------------------------------------------------------- targets
const byId = new Map(results.map((r) => [r.id, r]));
const floor = byId.get("floor").median;
for (const r of results) {
  if (r.median === undefined) continue;
  r.ratio = round2(r.median / floor);
  const t = r.target;
  if (!t) continue;
  const checks = [];
  if (t.ratio !== undefined) checks.push({ what: `≤ ${t.ratio}× floor`, pass: r.ratio <= t.ratio });
  if (t.ms !== undefined) checks.push({ what: `≤ ${t.ms} ms`, pass: r.median <= t.ms });
  if (t.rssMB !== undefined) checks.push({ what: `RSS ≤ ${t.rssMB} MB`, pass: r.peakRssMB <= t.rssMB });
  r.checks = checks;
}
const g100 = byId.get("gen-100");
const g1000 = byId.get("gen-1000");
const scaling = g100?.median && g1000?.median ? { ratio: round2(g1000.median / g100.median), max: 12 } : undefined;
if (scaling) scaling.pass = scaling.ratio <= scaling.max;
const v100 = results.find((r) => r.id === "validate-100");
const v1000 = results.find((r) => r.id === "validate-1000");
const compileScaling = v100?.median && v1000?.median ? { ratio: round2(v1000.median / v100.median), max: 12 } : undefined;
if (compileScaling) compileScaling.pass = compileScaling.ratio <= compileScaling.max;
// Today's cold generate against the baseline bundle's, same round-robin run.
const vsBaseline = [
  ["gen-catalog", "gen-catalog-base", "generate catalog (cold)"],
  ["gen-100", "gen-100-base", "generate 100 apps (cold)"],
]
  .map(([now, base, what]) => ({ what, now: byId.get(now), base: byId.get(base) }))
  .filter((c) => c.now?.median && c.base?.median)
  // Median of the per-round ratios: both ran in the same round, so load drift on
  // this shared box cancels out better than in a ratio of medians.
  .map((c) => {
    const ratio = median(c.now.runs.map((t, i) => t / c.base.runs[i]).sort((a, b) => a - b));
    return { what: c.what, ratio: round2(ratio), max: 1.1, pass: ratio <= 1.1 };
  });

// ---------------------------------------------------------------- report
const cols = ["command", "median ms", "min–max ms", "× floor", "peak RSS MB", "target"];
const table = results.map((r) =>
  r.unavailable
    ? [r.label, "—", "—", "—", "—", r.unavailable]
    : [
        r.label,
        r.median.toFixed(1),
        `${r.min.toFixed(1)}–${r.max.toFixed(1)}`,
        r.ratio.toFixed(2),
        r.peakRssMB.toFixed(1),
        (r.checks ?? []).map((c) => `${c.pass ? "PASS" : "FAIL"} ${c.what}`).join("; "),
      ],
);
const widths = cols.map((c, i) => Math.max(c.length, ...table.map((row) => row[i].length)));
const line = (cells) => cells.map((c, i) => (i > 0 && i < 5 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
const machine = {
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  memGB: round1(totalmem() / 2 ** 30),
  freeMemGB: round1(freemem() / 2 ** 30),
  loadavg: loadavg().map(round2),
  os: `${process.platform} ${release()}`,
  node: process.version,
  date: new Date().toISOString(),
};
const rssMethod = GNU_TIME ? `${GNU_TIME} -f %M (child ru_maxrss)` : "--import preload recording process.resourceUsage().maxRSS at exit";
console.log(`\narchy-quadlet bench — ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, load ${machine.loadavg.join(" ")}`);
console.log(`bundle ${(bundleBytes / 1024).toFixed(1)} KiB; ${RUNS} measured rounds after ${WARMUP} warm-up (rows interleaved); peak RSS: max of ${RSS_RUNS} runs via ${rssMethod}\n`);
console.log(line(cols));
console.log(line(widths.map((w) => "-".repeat(w))));
for (const row of table) console.log(line(row));
if (scaling) console.log(`\ngenerate 1,000 / 100 apps: ${scaling.ratio.toFixed(2)}× — ${scaling.pass ? "PASS" : "FAIL"} ≤ ${scaling.max}`);
for (const c of vsBaseline) console.log(`${c.what}, today / baseline ${baseline.rev}: ${c.ratio.toFixed(2)}× — ${c.pass ? "PASS" : "FAIL"} ≤ ${c.max}`);
if (compileScaling) console.log(`validate 1,000 / 100 apps: ${compileScaling.ratio.toFixed(2)}× — ${compileScaling.pass ? "PASS" : "FAIL"} ≤ ${compileScaling.max}`);

const gitRev = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).stdout?.trim() || undefined;
const dirty = gitRev ? spawnSync("git", ["status", "--porcelain", "--", "src", "scripts", "manifests"], { cwd: root, encoding: "utf8" }).stdout.trim() !== "" : undefined;
const report = { machine, git: gitRev && { rev: gitRev, dirty }, config: { runs: RUNS, warmup: WARMUP, rssRuns: RSS_RUNS, rssMethod, bundleBytes, catalogApps }, rows: results, scaling, compileScaling, baseline: { rev: baseline.rev ?? BASELINE, vs: vsBaseline } };
if (ONLY) console.log("\nBENCH_ONLY set: bench/results.json left as it was");
else {
  writeFileSync(join(root, "bench/results.json"), `${JSON.stringify(report, null, 2)}\n`);
  console.log("\nwrote bench/results.json");
}

if (process.env.BENCH_KEEP === "1") log(`bench: kept ${work}`);
else rmSync(work, { recursive: true, force: true });

// ---------------------------------------------------------------- helpers
function run(args, extraEnv = {}) {
  return spawnSync(node, [bundle, ...args], { cwd: root, env: { ...baseEnv, ...extraEnv }, encoding: "utf8" });
}

function must(p, what) {
  if (p.status === 0) return p;
  log(`bench: ${what} failed (exit ${p.status ?? p.signal})`);
  if (p.stderr) log(String(p.stderr).trim().split("\n").slice(0, 20).join("\n"));
  process.exit(1);
}

function peakRss(argv, env) {
  if (GNU_TIME) {
    const f = join(work, "rss.txt");
    must(spawnSync(GNU_TIME, ["-f", "%M", "-o", f, node, ...argv], { cwd: root, env, stdio: "ignore" }), `peak RSS of node ${argv.join(" ")}`);
    return Number(readFileSync(f, "utf8").trim().split("\n").pop());
  }
  const f = join(work, "rss.txt");
  const hook = join(work, "maxrss.mjs");
  if (!existsSync(hook)) writeFileSync(hook, `import { writeFileSync } from "node:fs";\nprocess.on("exit", () => writeFileSync(process.env.BENCH_RSS_FILE, String(process.resourceUsage().maxRSS)));\n`);
  must(spawnSync(node, ["--import", pathToFileURL(hook).href, ...argv], { cwd: root, env: { ...env, BENCH_RSS_FILE: f }, stdio: "ignore" }), "peak RSS");
  return Number(readFileSync(f, "utf8"));
}

/** Build `rev`'s bundle with its own build script into .cache/bench/baseline-<sha>/. */
async function buildBaseline(rev) {
  const sha = spawnSync("git", ["rev-parse", "--verify", "--short", `${rev}^{commit}`], { cwd: root, encoding: "utf8" });
  if (sha.status !== 0) return { error: `not a commit in this clone (${firstLine(sha.stderr)})` };
  const short = sha.stdout.trim();
  const dir = join(root, ".cache/bench", `baseline-${short}`);
  const out = join(dir, "dist/archy-quadlet.mjs");
  if (!existsSync(out)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const tar = spawnSync("sh", ["-c", `git archive --format=tar "$0" | tar -x -C "$1"`, short, dir], { cwd: root, encoding: "utf8" });
    if (tar.status !== 0) return { error: `git archive failed: ${firstLine(tar.stderr)}` };
    // Its dependencies are a subset of today's lockfile (handlebars was added, nothing removed).
    symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
    const built = spawnSync(node, [join(dir, "scripts/build.mjs"), "--quiet"], { cwd: dir, env: baseEnv, encoding: "utf8" });
    if (built.status !== 0) return { error: `its build failed: ${firstLine(built.stderr)}` };
  }
  return { rev: short, bundle: out, manifests: join(dir, "manifests") };
}

function pick(r) {
  return { id: r.id, label: r.label, target: r.target, command: r.unavailable ? undefined : `node ${argvOf(r).map((a) => relative(root, a) || a).join(" ")}` };
}
function median(sorted) {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}
function round1(x) {
  return Math.round(x * 10) / 10;
}
function round2(x) {
  return Math.round(x * 100) / 100;
}
function firstLine(s) {
  return String(s ?? "").trim().split("\n")[0] ?? "";
}
