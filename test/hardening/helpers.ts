// Shared by the hardening suites: write manifests, compile in-process, run many
// cases' units through the real quadlet in one batch, and read back what podman
// would receive.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../src/plan/inputs.js";
import type { CompileResult } from "../../src/plan/compile.js";
import { ReviewSecrets } from "../../src/configs/secrets.js";
import { formatDiagnostic } from "../../src/manifest/diagnostics.js";
import { UNIT_DIR } from "../../src/lower/lower.js";
import { dryrun, indexOfWords, problems, serviceOf, unitValues } from "../helpers/quadlet.js";

export { UNIT_DIR };

// --- podman's argv from a generated service -------------------------------
// test/helpers/quadlet.ts's execStartArgv, with one difference: each word is
// decoded with ignoreBOM, because TextDecoder otherwise drops a U+FEFF that
// starts a word (systemd keeps it; the fuzzer found the helper disagreeing).

// The ExecStart= parser (systemd's quoting and unescaping) is shared with the core tests.
import { execStartArgv } from "../helpers/quadlet.js";
import { podmanStoredHealthTest } from "../helpers/podman-health.js";
import type { Expected } from "../helpers/fixtures.js";
export { execStartArgv, splitExec } from "../helpers/quadlet.js";

export function scratch(prefix = "archy-hardening-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A plain JSON-ish manifest value (what a contributor wrote, before validation). */
export type Raw = Record<string, unknown>;

/** Write manifests (file name → YAML/JSON text) into a fresh directory under `root`, plus any build contexts. */
export function writeCatalog(root: string, files: Record<string, string | Buffer>, contexts: string[] = []): string {
  const dir = join(root, "manifests");
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  for (const c of contexts) {
    mkdirSync(join(dir, c), { recursive: true });
    writeFileSync(join(dir, c, "Containerfile"), "FROM docker.io/library/busybox:1.36\n");
  }
  return dir;
}

export function compileDir(manifests: string, select?: string): CompileResult {
  return compile({ manifests, select, secrets: new ReviewSecrets() });
}

/** Every diagnostic is a clean one-line compiler message: file, message, no stack trace. */
export function diagnosticProblems(r: CompileResult): string[] {
  const bad: string[] = [];
  for (const d of r.diagnostics) {
    const text = formatDiagnostic(d);
    if (!d.file || !d.message) bad.push(`empty file or message: ${JSON.stringify(d)}`);
    if (/\n\s+at |internal error|TypeError|ReferenceError|RangeError|Cannot read prop/.test(text)) bad.push(`stack trace or JS error: ${text}`);
    if (/[\n\r]/.test(text)) bad.push(`diagnostic spans lines: ${JSON.stringify(text)}`);
  }
  if (r.diagnostics.length > 0 && r.files.length > 0) bad.push("diagnostics and files at once");
  return bad;
}

/** Naming rule of the format, restated independently of src/graph: archy- prefix for UIs, -key suffix for extra containers. */
export function containerNameOf(app: { id: string; kind: string; containers: Record<string, unknown> }, key: string): string {
  const keys = Object.keys(app.containers);
  return `${app.kind === "ui" ? "archy-" : ""}${app.id}${keys.length === 1 || key === app.id ? "" : `-${key}`}`;
}

/** What podman must receive for one container of a manifest value that compiled. */
export interface Expect extends Expected {
  flags: string[][];
}

interface RawC {
  image?: string;
  build?: { args?: Record<string, string> };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  healthcheck?: { cmd: string | string[] };
  user?: string;
  aliases?: string[];
  tmpfs?: string[];
  volumes?: { source: string; target: string; read_only?: boolean; app?: string }[];
}

export function expectationsOf(raw: Raw): Expect[] {
  const app = raw as { id: string; kind: string; version: string; containers: Record<string, RawC> };
  return Object.entries(app.containers).map(([key, c]) => {
    const name = containerNameOf(app, key);
    const h = c.healthcheck?.cmd;
    const flags: string[][] = [];
    if (c.user !== undefined) flags.push(["--user", c.user]);
    for (const a of c.aliases ?? []) flags.push([`--network-alias`, a]);
    for (const t of c.tmpfs ?? []) flags.push(["--tmpfs", t]);
    for (const v of c.volumes ?? []) {
      const host = v.source.startsWith("/") ? v.source : `/var/lib/archy/apps/${v.app ?? app.id}/${v.source}`;
      flags.push(["-v", `${host}:${v.target}:${v.read_only ? "ro" : "rw"}`]);
    }
    return {
      service: `${name}.service`,
      buildService: c.build ? `${name}-build.service` : undefined,
      image: c.image ?? `localhost/archy/${name}:${app.version}`,
      env: Object.entries(c.environment ?? {}),
      command: c.command,
      entrypoint: c.entrypoint,
      health: h === undefined ? undefined : typeof h === "string" ? ["CMD-SHELL", h] : ["CMD", ...h],
      buildArgs: Object.entries(c.build?.args ?? {}),
      flags,
    };
  });
}

/** Differences between podman's argv (per service) and what the manifest said; empty when every value arrived literally. */
export function argvMismatches(e: Expect, services: Map<string, string>): string[] {
  const out: string[] = [];
  const text = services.get(e.service);
  if (text === undefined) return [`quadlet produced no ${e.service}`];
  let args: string[];
  try {
    args = execStartArgv(text);
  } catch (err) {
    return [`${e.service}: ${(err as Error).message}`];
  }
  const show = (x: unknown) => JSON.stringify(x);
  for (const [k, v] of e.env) if (indexOfWords(args, ["--env", `${k}=${v}`]) < 0) out.push(`${e.service}: --env ${show(`${k}=${v}`)} not in argv`);
  for (const f of e.flags) if (indexOfWords(args, f) < 0) out.push(`${e.service}: ${show(f)} not in argv`);
  const tail = [e.image, ...(e.command ?? [])];
  if (show(args.slice(-tail.length)) !== show(tail)) out.push(`${e.service}: argv ends ${show(args.slice(-tail.length))}, want ${show(tail)}`);
  const after = (flag: string): unknown => {
    const i = args.indexOf(flag);
    if (i < 0) return `(no ${flag})`;
    try {
      return JSON.parse(args[i + 1]!) as unknown;
    } catch {
      return `(not JSON: ${args[i + 1]})`;
    }
  };
  if (e.entrypoint && show(after("--entrypoint")) !== show(e.entrypoint)) out.push(`${e.service}: --entrypoint ${show(after("--entrypoint"))}, want ${show(e.entrypoint)}`);
  // What podman stores for the --health-cmd text (its own re-reading rule, helpers/podman-health.ts).
  if (e.health) {
    const i = args.indexOf("--health-cmd");
    const stored = i < 0 ? "(no --health-cmd)" : podmanStoredHealthTest(args[i + 1]!);
    if (show(stored) !== show(e.health)) out.push(`${e.service}: --health-cmd stored as ${show(stored)}, want ${show(e.health)}`);
  }
  if (e.buildService) {
    const b = services.get(e.buildService);
    if (b === undefined) out.push(`quadlet produced no ${e.buildService}`);
    else {
      try {
        const bargs = execStartArgv(b);
        for (const [k, v] of e.buildArgs) if (indexOfWords(bargs, ["--build-arg", `${k}=${v}`]) < 0) out.push(`${e.buildService}: --build-arg ${show(`${k}=${v}`)} not in argv`);
      } catch (err) {
        out.push(`${e.buildService}: ${(err as Error).message}`);
      }
    }
  }
  return out;
}

/** One accepted case waiting for the real quadlet: its unit files and what podman must get. */
export interface Pending {
  label: string;
  files: { name: string; content: string }[];
  expect: Expect[];
  /** the manifest text, for a regression fixture when the case fails */
  source: string;
  /** extra checks on quadlet's services (service name → generated unit text) */
  check?: (services: Map<string, string>) => string[];
}

export function pendingOf(label: string, r: CompileResult, raw: Raw, source: string): Pending {
  const files = r.files
    .filter((f) => f.path.startsWith(`${UNIT_DIR}/`))
    .map((f) => ({ name: f.path.slice(UNIT_DIR.length + 1), content: String(f.content) }));
  return { label, files, expect: expectationsOf(raw), source };
}

export interface BatchResult {
  checked: number;
  passed: number;
  failures: { label: string; source: string; problems: string[] }[];
  runs: number;
}

/**
 * Write many cases' units into one QUADLET_UNIT_DIRS tree (names must be unique
 * across cases; the shared archy.network is identical everywhere) and run the
 * real quadlet once per `size` cases.
 */
export function checkWithQuadlet(cases: Pending[], size = 100): BatchResult {
  const res: BatchResult = { checked: 0, passed: 0, failures: [], runs: 0 };
  let queue = cases;
  while (queue.length > 0) {
    // Fill a batch with cases whose unit names are free; a clash waits for the next batch.
    const batch: Pending[] = [];
    const later: Pending[] = [];
    const owner = new Map<string, string>();
    for (const c of queue) {
      const clash = batch.length >= size || c.files.some((f) => f.name !== "archy.network" && owner.has(f.name));
      if (clash) {
        later.push(c);
        continue;
      }
      batch.push(c);
      for (const f of c.files) owner.set(f.name, c.label);
    }
    queue = later;
    const dir = scratch("archy-batch-");
    for (const c of batch) for (const f of c.files) writeFileSync(join(dir, f.name), f.content);
    const dr = dryrun(dir);
    res.runs++;
    const stderrProblems = problems(dr.stderr);
    for (const c of batch) {
      res.checked++;
      const p: string[] = [];
      for (const f of c.files) {
        if (!dr.services.has(serviceOf(f.name))) p.push(`quadlet produced no service for ${f.name}`);
        // A message naming one of this case's units is this case's problem.
        for (const l of stderrProblems) if (l.includes(f.name) || l.includes(serviceOf(f.name))) p.push(`quadlet: ${l}`);
      }
      for (const e of c.expect) p.push(...argvMismatches(e, dr.services));
      if (c.check) p.push(...c.check(dr.services));
      if (p.length === 0) res.passed++;
      else res.failures.push({ label: c.label, source: c.source, problems: p });
    }
    // Problems no case owns (should not happen) fail the whole batch.
    const unowned = stderrProblems.filter((l) => !batch.some((c) => c.files.some((f) => l.includes(f.name) || l.includes(serviceOf(f.name)))));
    if (unowned.length > 0 || (dr.code !== 0 && res.failures.length === 0)) {
      res.failures.push({ label: `batch ${res.runs}`, source: "", problems: [`quadlet exit ${dr.code}`, ...unowned] });
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

/** Every regular file under root, as sorted relative paths (for before/after comparisons of an --out dir). */
export function listFiles(root: string): string[] {
  const out: string[] = [];
  const visit = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) visit(r);
      else out.push(r);
    }
  };
  visit("");
  return out.sort();
}
