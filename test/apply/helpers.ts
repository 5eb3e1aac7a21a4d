// Shared helpers for the apply / rollback / reconcile / generations tests:
// temp workspaces (root + a private copy of the fixture catalog + a fixed
// secrets store), the recording adapter, views of the tree through the stable
// links, and a CLI runner (the bundle).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { RecordingAdapter, type RecordedCall, type RunResult } from "../../src/apply/adapter.js";
import type { Env, Inputs } from "../../src/apply/apply.js";
import type { Tree } from "../../src/apply/plan.js";
import { treeHash } from "../../src/apply/state.js";
import { bundle } from "../helpers/cli.js";

export const REPO = join(import.meta.dirname, "..", "..");
export const FIXTURES = join(import.meta.dirname, "fixtures");
export const CATALOG = join(FIXTURES, "catalog");

// The real Podman 5.4 quadlet; missing is a hard failure, never a skip.
import { quadletBin } from "../helpers/quadlet.js";
export { quadletBin };

/** Deterministic 64-hex secret values, so trees are identical across runs and roots. */
export const secretValue = (name: string, salt = "") => createHash("sha256").update(`archy test secret ${name}${salt}`).digest("hex");

export const CONSUMERS = ["ui", "indexer", "extra"];

export interface Workspace {
  dir: string;
  root: string;
  manifests: string;
  secrets: string;
  log: string;
}

const made: string[] = [];

/** A fresh workspace: empty root, private copy of the fixture catalog, secrets for every consumer. */
export function workspace(catalog = CATALOG): Workspace {
  const dir = mkdtempSync(join(tmpdir(), "archy-apply-"));
  made.push(dir);
  const ws = { dir, root: join(dir, "root"), manifests: join(dir, "manifests"), secrets: join(dir, "secrets"), log: join(dir, "calls.jsonl") };
  mkdirSync(ws.root);
  cpSync(catalog, ws.manifests, { recursive: true });
  mkdirSync(ws.secrets, { mode: 0o700 });
  for (const c of CONSUMERS) writeSecret(ws, `rpc-${c}`, secretValue(`rpc-${c}`));
  return ws;
}

export function writeSecret(ws: Workspace, name: string, value: string): void {
  writeFileSync(join(ws.secrets, name), `${value}\n`, { mode: 0o600 });
}

export function cleanup(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Edit a manifest (or build-context file) of the workspace's catalog in place. */
export function edit(ws: Workspace, rel: string, fn: (text: string) => string): void {
  const p = join(ws.manifests, rel);
  const before = readFileSync(p, "utf8");
  const after = fn(before);
  if (after === before) throw new Error(`edit of ${rel} changed nothing`);
  writeFileSync(p, after);
}

/** A modified copy of the fixture catalog at <ws.dir>/<name>: other inputs for the same root. */
export function variant(ws: Workspace, name: string, file: string, fn: (text: string) => string): string {
  const dir = join(ws.dir, name);
  cpSync(CATALOG, dir, { recursive: true });
  const p = join(dir, file);
  const after = fn(readFileSync(p, "utf8"));
  if (after === readFileSync(p, "utf8")) throw new Error(`variant ${name}: edit of ${file} changed nothing`);
  writeFileSync(p, after);
  return dir;
}

export function inputs(ws: Workspace, over: Partial<Inputs> = {}): Inputs {
  return { manifests: ws.manifests, secrets: ws.secrets, keep: 3, ...over };
}

export type Rule = (call: RecordedCall) => RunResult | undefined;

export interface TestEnv extends Env {
  adapter: RecordingAdapter;
  lines: string[];
  /** Runs of the real quadlet (passed through, so not in adapter.calls). */
  quadletRuns: RecordedCall[];
}

/** In-process env: recording fake for systemctl/podman, the real quadlet for the preflight. */
export function testEnv(ws: Workspace, rules: Rule[] = []): TestEnv {
  const lines: string[] = [];
  const bin = quadletBin();
  const quadletRuns: RecordedCall[] = [];
  const adapter = new RecordingAdapter(rules, (c) => c.cmd === bin && quadletRuns.push(c) > 0);
  // Plenty of free space, whatever the test machine has (the disk guard's own tests set less).
  return { root: ws.root, adapter, log: (l) => lines.push(l), quadlet: bin, lockTimeoutMs: 5_000, lines, quadletRuns, freeBytes: () => 2 ** 50, pullBackoffMs: 1 };
}

/** Recorded calls as shell-like strings, e.g. "systemctl restart web.service". */
export const showAll = (calls: readonly RecordedCall[]) => calls.map((c) => [c.cmd, ...c.args].join(" "));

/**
 * The calls around the switch, as shell-like strings: without the image step before it
 * (`podman info` for the disk guard, `podman image exists|inspect`, pulls and builds), which
 * test/apply/images.test.ts asserts with showAll. Cleanup's `podman rmi` stays visible.
 */
export const show = (calls: readonly RecordedCall[]) => showAll(calls).filter((c) => !IMAGE_STEP.test(c));
export const IMAGE_STEP = /^podman (image exists |image inspect |info --format json$|pull |build )/;

/** Calls recorded by a CLI run (ARCHY_QUADLET_ADAPTER=record:<file>). */
export function logged(file: string): (RecordedCall & { pid: number })[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as RecordedCall & { pid: number });
}

export const STATE = "var/lib/archy-quadlet";

export interface Entry {
  kind: "file" | "dir" | "link";
  ino: number;
  mtimeMs: number;
  ctimeMs: number;
  mode: number;
  target?: string;
  sha?: string;
}

/** Every entry under dir (not following links): kind, inode, times, mode, link target, content hash. */
export function snapshot(dir: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (rel: string) => {
    const abs = rel ? join(dir, rel) : dir;
    const st = lstatSync(abs, { bigint: false });
    const base = { ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, mode: st.mode & 0o7777 };
    if (st.isSymbolicLink()) out.set(rel, { kind: "link", ...base, target: readlinkSync(abs) });
    else if (st.isDirectory()) {
      out.set(rel, { kind: "dir", ...base });
      for (const n of readdirSync(abs).sort()) walk(rel ? `${rel}/${n}` : n);
    } else out.set(rel, { kind: "file", ...base, sha: createHash("sha256").update(readFileSync(abs)).digest("hex") });
  };
  if (existsSync(dir)) walk("");
  return out;
}

/** A snapshot without directory times: for operations that may create and remove temp entries. */
export function entries(dir: string): Map<string, Entry> {
  const out = snapshot(dir);
  for (const [k, e] of out) if (e.kind === "dir") out.set(k, { ...e, mtimeMs: 0, ctimeMs: 0 });
  return out;
}

/**
 * The active tree as the system sees it: through the root's stable links
 * (following them), with the same relative paths a generation uses.
 */
export function activeView(root: string): Tree {
  const tree: Tree = new Map();
  const add = (rel: string) => {
    const abs = join(root, rel);
    let st;
    try {
      st = statSync(abs); // follows links; a dangling one is simply absent
    } catch {
      return;
    }
    if (st.isDirectory()) for (const n of readdirSync(abs).sort()) add(`${rel}/${n}`);
    else if (st.isFile()) tree.set(rel, { content: readFileSync(abs), mode: st.mode & 0o7777 });
  };
  add("etc/containers/systemd/archy");
  add("etc/archy");
  add("etc/containers/containers.conf.d/50-archy.conf");
  const sys = join(root, "etc/systemd/system");
  if (existsSync(sys)) for (const n of readdirSync(sys).sort()) if (n.startsWith("archy-quadlet-")) add(`etc/systemd/system/${n}`);
  return tree;
}

export const viewHash = (root: string) => treeHash(activeView(root));

/** Files of a generation directory (without meta.json), as relative paths. */
export function genFiles(root: string, id: number): string[] {
  const base = join(root, STATE, "generations", String(id));
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(base, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (r !== "meta.json") out.push(r);
    }
  };
  walk("");
  return out.sort();
}

export function currentLink(root: string): string | undefined {
  try {
    return readlinkSync(join(root, STATE, "current"));
  } catch {
    return undefined;
  }
}

export function genIds(root: string): string[] {
  try {
    return readdirSync(join(root, STATE, "generations")).sort();
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------- CLI runner

/** CLI subprocesses run the bundle, built (when stale) by the function `npm run build` uses. */
export const CLI: { argv: string[] } = { argv: [await bundle()] };

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI in a subprocess with the recording fake logging to `log`. */
export function runCli(args: string[], opts: { log?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), QUADLET_BIN: quadletBin(), ...opts.env };
  delete env.ARCHY_QUADLET_CRASH_AFTER;
  if (opts.env?.ARCHY_QUADLET_CRASH_AFTER) env.ARCHY_QUADLET_CRASH_AFTER = opts.env.ARCHY_QUADLET_CRASH_AFTER;
  if (opts.log) env.ARCHY_QUADLET_ADAPTER = `record:${opts.log}`;
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [...CLI.argv, ...args], { cwd: REPO, env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: child.exitCode, signal: child.signalCode, stdout: String(stdout), stderr: String(stderr) });
      void error;
    });
  });
}

export function writeExecutable(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, { mode: 0o755 });
  return path;
}
