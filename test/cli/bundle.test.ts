// The single-file bundle (npm run build → dist/archy-quadlet.mjs) must run with
// no node_modules anywhere, stay a plain bundle (no code as strings, no data:
// modules) and produce exactly what the sources produce.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { builtinModules } from "node:module";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { bundle as built } from "../helpers/cli.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bundle = join(root, "dist/archy-quadlet.mjs");

/** Child environment: nothing that could let node find packages or preload anything. */
function cleanEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, ...extra };
  delete env.NODE_PATH;
  delete env.NODE_OPTIONS;
  return env;
}

function node(args: string[], cwd: string, env: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, args, { cwd, env, encoding: "utf8", timeout: 60_000 });
}

function ok(r: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  if (r.status !== 0) throw new Error(`${what}: exit ${r.status ?? r.signal}\n${r.stderr}${r.stdout}`);
  return r;
}

/** Every file under dir: relative path → bytes and permission bits. */
function tree(dir: string): Map<string, { content: Buffer; mode: number }> {
  const out = new Map<string, { content: Buffer; mode: number }>();
  const visit = (rel: string) => {
    const abs = join(dir, rel);
    const st = statSync(abs);
    if (st.isDirectory()) for (const n of readdirSync(abs).sort()) visit(rel ? `${rel}/${n}` : n);
    else out.set(rel, { content: readFileSync(abs), mode: st.mode & 0o7777 });
  };
  visit("");
  return out;
}

const isBuiltin = (spec: string) => {
  const name = spec.replace(/^node:/, "");
  return builtinModules.includes(name) || builtinModules.includes(name.split("/")[0]!);
};

let work: string; // under os.tmpdir(): the bundle alone, plus a copy of manifests/
let ref: string; // under the repo (.cache/): the sources via tsx need node_modules
let copied: string;

beforeAll(async () => {
  await built();
  work = mkdtempSync(join(tmpdir(), "archy-bundle-"));
  copied = join(work, "archy-quadlet.mjs");
  copyFileSync(bundle, copied);
  cpSync(join(root, "manifests"), join(work, "manifests"), { recursive: true });
  mkdirSync(join(root, ".cache"), { recursive: true });
  ref = mkdtempSync(join(root, ".cache", "bundle-ref-"));
  cpSync(join(work, "manifests"), join(ref, "manifests"), { recursive: true });
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  if (ref) rmSync(ref, { recursive: true, force: true });
});

describe("single-file bundle", () => {
  it("is isolated: outside the repo, no node_modules on any ancestor", () => {
    expect(relative(root, work).split(sep)[0]).toBe("..");
    expect(readdirSync(work).sort()).toEqual(["archy-quadlet.mjs", "manifests"]);
    for (let d = work; ; d = dirname(d)) {
      expect(existsSync(join(d, "node_modules")), `${join(d, "node_modules")} exists`).toBe(false);
      if (dirname(d) === d) break;
    }
  });

  it("is plain code: imports and requires nothing but Node built-ins; no new Function, eval or data: module", () => {
    const text = readFileSync(copied, "utf8");
    expect(text.startsWith("#!/usr/bin/env node\n")).toBe(true);
    // Static import/export-from statements (at a statement start), dynamic import(), require().
    const patterns = [/(?:^|[;}\n])\s*(?:import|export)\s*(?:[\w$*{}\s,]*?\s*from\s*)?"([^"]+)"/g, /\bimport\(\s*"([^"]+)"\s*\)/g, /\brequire\(\s*"([^"]+)"\s*\)/g];
    const specs = new Set<string>();
    for (const re of patterns) for (const m of text.matchAll(re)) specs.add(m[1]!);
    expect(specs).toContain("node:module"); // the scan is real
    expect([...specs].filter((s) => !isBuiltin(s))).toEqual([]);
    expect(text).not.toMatch(/\bnew Function\b|\beval\(|data:text\/javascript/);
  });

  it("check writes nothing anywhere: XDG_CACHE_HOME and HOME stay empty", () => {
    const env = cleanEnv(work);
    ok(node(["archy-quadlet.mjs", "generate", "--manifests", "manifests", "--out", "out-check"], work, env), "bundle generate");
    const cache = mkdtempSync(join(tmpdir(), "archy-xdg-"));
    const home = mkdtempSync(join(tmpdir(), "archy-home-"));
    try {
      for (let i = 0; i < 2; i++) ok(node(["archy-quadlet.mjs", "check", "--manifests", "manifests", "--out", "out-check"], work, cleanEnv(home, { XDG_CACHE_HOME: cache })), "bundle check");
      expect(readdirSync(cache)).toEqual([]);
      expect(readdirSync(home)).toEqual([]);
    } finally {
      rmSync(cache, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    }
  });

  it("generates and checks the catalog, byte-identical to the sources run through tsx", () => {
    const env = cleanEnv(work);
    const gen = ok(node(["archy-quadlet.mjs", "generate", "--manifests", "manifests", "--out", "out"], work, env), "bundle generate");
    ok(node(["archy-quadlet.mjs", "check", "--manifests", "manifests", "--out", "out"], work, env), "bundle check");

    // Same relative paths on both sides: the manifest path is part of every unit's header.
    const src = ok(node(["--import", "tsx", "--import", pathToFileURL(join(root, "scripts/hbs-register.mjs")).href, join(root, "src/cli/run.ts"), "generate", "--manifests", "manifests", "--out", "out"], ref, cleanEnv(ref)), "tsx generate");
    expect(gen.stdout).toBe(src.stdout);

    const got = tree(join(work, "out"));
    const want = tree(join(ref, "out"));
    expect(got.size).toBeGreaterThan(0);
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [path, w] of want) {
      const g = got.get(path)!;
      expect(g.mode.toString(8), path).toBe(w.mode.toString(8));
      expect(g.content.equals(w.content), `${path} differs`).toBe(true);
    }
  });
});
