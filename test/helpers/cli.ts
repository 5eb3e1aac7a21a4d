// Running the CLI in-process (fast) or as a subprocess (umask, locale, uid).
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { pathToFileURL } from "node:url";
import { dirname, join, relative } from "node:path";
import { expect, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { REPO } from "./quadlet.js";
import { buildBundle, stale, BUNDLE } from "../../scripts/build.mjs";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** main(argv) with stdout/stderr captured; `cwd` is entered for the call only. */
export async function cli(argv: string[], opts: { cwd?: string } = {}): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  const before = process.cwd();
  try {
    if (opts.cwd) process.chdir(opts.cwd);
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    process.chdir(before);
    o.mockRestore();
    e.mockRestore();
  }
}

/** dist/archy-quadlet.mjs, rebuilt first (as `npm run build` does) if any source is newer. */
export async function bundle(): Promise<string> {
  if (stale()) await buildBundle();
  return BUNDLE;
}

const TSX = import.meta.resolve("tsx");
/** templates/*.hbs precompiled on load (scripts/hbs.mjs), as in the bundle. */
const HBS = pathToFileURL(join(REPO, "scripts/hbs-register.mjs")).href;

/** `node --import tsx src/cli/run.ts …` in a shell, so umask/env/uid can differ. */
export function cliProcess(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; umask?: string; uid?: number; gid?: number } = {}): Run {
  const cmd = [process.execPath, "--import", TSX, "--import", HBS, join(REPO, "src/cli/run.ts"), ...argv].map(shq).join(" ");
  const spawnOpts: SpawnSyncOptions = {
    cwd: opts.cwd ?? REPO,
    env: { ...process.env, ...opts.env },
    encoding: "utf8",
    uid: opts.uid,
    gid: opts.gid,
  };
  const r = spawnSync("/bin/sh", ["-c", `${opts.umask ? `umask ${opts.umask} && ` : ""}exec ${cmd}`], spawnOpts);
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function tempDir(prefix = "archy-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cleanup(...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

export interface TreeEntry {
  content: Buffer;
  mode: number;
}

/** Every file under root (relative POSIX paths, sorted) with bytes and permission bits. */
export function readAll(root: string): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  const visit = (rel: string) => {
    const abs = rel ? join(root, rel) : root;
    for (const name of readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, r));
      if (st.isDirectory()) visit(r);
      else out.set(r, { content: readFileSync(join(root, r)), mode: st.mode & 0o777 });
    }
  };
  visit("");
  return out;
}

/** Directories under root (not root itself) with their permission bits. */
export function dirModes(root: string): Map<string, number> {
  const out = new Map<string, number>();
  const visit = (rel: string) => {
    for (const name of readdirSync(rel ? join(root, rel) : root).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, r));
      if (st.isDirectory()) {
        out.set(r, st.mode & 0o777);
        visit(r);
      }
    }
  };
  visit("");
  return out;
}

/** Names of files that differ between two trees (added, removed or changed bytes). */
export function changedFiles(a: Map<string, TreeEntry>, b: Map<string, TreeEntry>): string[] {
  const names = new Set([...a.keys(), ...b.keys()]);
  return [...names].filter((n) => !a.get(n) || !b.get(n) || !a.get(n)!.content.equals(b.get(n)!.content)).sort();
}

export const UNIT_DIR = "etc/containers/systemd/archy";

/**
 * Golden files: test/<area>/golden/<command>[-<case>].<ext>, compared byte for
 * byte; UPDATE_GOLDEN=1 rewrites them instead.
 */
export function golden(file: string, actual: string): void {
  const text = actual.endsWith("\n") ? actual : `${actual}\n`;
  const name = relative(REPO, file);
  if (process.env.UPDATE_GOLDEN === "1") {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    return;
  }
  if (!existsSync(file)) throw new Error(`golden file ${name} is missing: run UPDATE_GOLDEN=1 npx vitest run ${dirname(dirname(name))}`);
  expect(text, `golden ${name} (UPDATE_GOLDEN=1 rewrites it)`).toBe(readFileSync(file, "utf8"));
}
