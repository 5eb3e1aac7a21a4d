// The single-file bundle (npm run build → dist/archy-quadlet.mjs) must run with
// no node_modules anywhere and produce exactly what the sources produce; and
// generate/check must stay lean at start-up (no execa, no apply or hooks code).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { builtinModules } from "node:module";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
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

/** Newest mtime among the inputs of the bundle. */
function newestInput(): number {
  let newest = 0;
  const visit = (p: string) => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) for (const n of readdirSync(p)) visit(join(p, n));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ["src", "templates", "scripts/build.mjs", "package.json", "package-lock.json"]) visit(join(root, p));
  return newest;
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

beforeAll(() => {
  if (!existsSync(bundle) || statSync(bundle).mtimeMs < newestInput()) {
    ok(spawnSync(process.execPath, [join(root, "scripts/build.mjs"), "--quiet"], { cwd: root, encoding: "utf8" }), "npm run build");
  }
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

  it("imports and requires nothing but Node built-ins (also inside its embedded lazy modules)", () => {
    const text = readFileSync(copied, "utf8");
    expect(text.startsWith("#!/usr/bin/env node\n")).toBe(true);
    const DATA = "data:text/javascript;base64,";
    // Static import/export-from statements (at a statement start), dynamic import(), require().
    const patterns = [/(?:^|[;}\n])\s*(?:import|export)\s*(?:[\w$*{}\s,]*?\s*from\s*)?"([^"]+)"/g, /\bimport\(\s*"([^"]+)"\s*\)/g, /\brequire\(\s*"([^"]+)"\s*\)/g];
    const specs = new Set<string>();
    const scan = (code: string) => {
      for (const re of patterns) {
        for (const m of code.matchAll(re)) {
          if (m[1]!.startsWith(DATA)) scan(Buffer.from(m[1]!.slice(DATA.length), "base64").toString("utf8"));
          else specs.add(m[1]!);
        }
      }
    };
    scan(text);
    expect(specs).toContain("node:module"); // the scan is real
    expect([...specs].filter((s) => !isBuiltin(s))).toEqual([]);
  });

  it("generates and checks the catalog, byte-identical to the sources run through tsx", () => {
    const env = cleanEnv(work);
    const gen = ok(node(["archy-quadlet.mjs", "generate", "--manifests", "manifests", "--out", "out"], work, env), "bundle generate");
    ok(node(["archy-quadlet.mjs", "check", "--manifests", "manifests", "--out", "out"], work, env), "bundle check");

    // Same relative paths on both sides: the manifest path is part of every unit's header.
    const src = ok(node(["--import", "tsx", join(root, "src/cli/run.ts"), "generate", "--manifests", "manifests", "--out", "out"], ref, cleanEnv(ref)), "tsx generate");
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

describe("start-up discipline", () => {
  it("generate/check in the bundle never load child_process (execa) or http(s)", () => {
    const hook = join(work, "loaded.mjs");
    writeFileSync(
      hook,
      'import { writeFileSync } from "node:fs";\nprocess.on("exit", () => writeFileSync(process.env.LOADED_FILE, process.moduleLoadList.join("\\n")));\n',
    );
    for (const cmd of ["generate", "check"]) {
      const list = join(work, `loaded-${cmd}.txt`);
      const env = cleanEnv(work, { LOADED_FILE: list });
      ok(node(["--import", pathToFileURL(hook).href, "archy-quadlet.mjs", cmd, "--manifests", "manifests", "--out", "out-startup"], work, env), `bundle ${cmd}`);
      const loaded = readFileSync(list, "utf8").split("\n");
      expect(loaded).toContain("NativeModule fs"); // the list is real
      // (net and tty are stdio's: a piped stdout is a net.Socket.)
      for (const m of ["child_process", "http", "https"]) expect(loaded, `${cmd} loaded ${m}`).not.toContain(`NativeModule ${m}`);
    }
  });

  it("generate/check load no execa, no src/apply except write.ts, no src/hooks (traced through the sources)", () => {
    // An ESM load hook in the sources run records every module URL.
    const hook = join(ref, "trace.mjs");
    writeFileSync(
      hook,
      `import { register } from "node:module";\nregister("data:text/javascript," + encodeURIComponent(${JSON.stringify(
        'import { appendFileSync } from "node:fs";\nexport async function load(url, context, next) { appendFileSync(process.env.TRACE_FILE, url + "\\n"); return next(url, context); }\n',
      )}));\n`,
    );
    for (const cmd of ["generate", "check"]) {
      const trace = join(ref, `trace-${cmd}.txt`);
      const env = cleanEnv(ref, { TRACE_FILE: trace });
      ok(node(["--import", "tsx", "--import", pathToFileURL(hook).href, join(root, "src/cli/run.ts"), cmd, "--manifests", "manifests", "--out", "out"], ref, env), `tsx ${cmd}`);
      const urls = readFileSync(trace, "utf8").trim().split("\n");
      const local = urls.filter((u) => u.startsWith("file:")).map((u) => relative(root, fileURLToPath(u)).split(sep).join("/"));
      expect(local).toContain("src/plan/compile.ts"); // the trace is real
      const forbidden = local.filter((p) => p.includes("node_modules/execa/") || (p.startsWith("src/apply/") && p !== "src/apply/write.ts") || p.startsWith("src/hooks/"));
      expect(forbidden, `${cmd} loaded`).toEqual([]);
    }
  });
});
