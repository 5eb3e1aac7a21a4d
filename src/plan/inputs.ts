// The edge of the compiler: read the catalog, the selection and every build
// context from disk, once, into data that compile() (pure) works on.
import { lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parseSelectionLocated, readManifestDir, readSource, type Locate } from "../manifest/read.js";
import { cmp, type Diagnostic } from "../manifest/diagnostics.js";
import { compileInputs, type CompileOptions, type CompileResult, type ContextRead, type Inputs } from "./compile.js";

export interface InputPaths {
  manifests: string;
  select?: string;
}

export function readInputs(paths: InputPaths): Inputs {
  const diagnostics: Diagnostic[] = [];
  const apps = readManifestDir(paths.manifests, diagnostics);
  const locators = new Map<string, Locate>();
  for (const a of apps) if (a.locate) locators.set(a.file, a.locate);
  let selection: Inputs["selection"];
  if (paths.select) {
    const src = readSource(paths.select, diagnostics);
    const parsed = src ? parseSelectionLocated(src, diagnostics) : undefined;
    if (parsed) {
      selection = parsed.selection;
      locators.set(paths.select, parsed.locate);
    }
  }
  const contexts: Inputs["contexts"] = new Map();
  for (const { app, dir } of apps) {
    for (const c of Object.values(app.containers)) {
      if (!c.build) continue;
      const byContext = contexts.get(app.id) ?? new Map<string, ContextRead>();
      if (!byContext.has(c.build.context)) byContext.set(c.build.context, readContext(dir, c.build.context));
      contexts.set(app.id, byContext);
    }
  }
  return { apps, selection, select: paths.select, locators, contexts, diagnostics };
}

/** Read the inputs, then compile them (pure): what every command that compiles does. */
export function compile(opts: InputPaths & CompileOptions): CompileResult {
  return compileInputs(readInputs(opts), opts);
}

function readContext(base: string, rel: string): ContextRead {
  const link = symlinkOnPath(base, rel);
  if (link) return { kind: "symlink-on-path", link };
  const dir = join(base, rel);
  let entries: string[];
  const links: string[] = [];
  try {
    entries = walk(dir, links);
  } catch {
    return { kind: "unreadable" };
  }
  if (links.length > 0) return { kind: "contains-symlinks", links };
  // Keep the executable bit, normalise the rest: modes are part of what ships.
  return { kind: "ok", files: entries.map((r) => ({ rel: r, content: readFileSync(join(dir, r)), mode: statSync(join(dir, r)).mode & 0o111 ? 0o755 : 0o644 })) };
}

/** The first component of `rel` under `base` that is a symlink, if any. */
function symlinkOnPath(base: string, rel: string): string | undefined {
  let cur = base;
  const parts = rel.split("/").filter((p) => p !== "" && p !== ".");
  for (const [i, p] of parts.entries()) {
    cur = join(cur, p);
    try {
      if (lstatSync(cur).isSymbolicLink()) return parts.slice(0, i + 1).join("/");
    } catch {
      return undefined; // missing: reported as unreadable
    }
  }
  return undefined;
}

function walk(dir: string, links: string[]): string[] {
  const out: string[] = [];
  const rec = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) rec(p);
      else if (e.isFile()) out.push(relative(dir, p).split("\\").join("/"));
      else if (e.isSymbolicLink()) links.push(relative(dir, p).split("\\").join("/"));
    }
  };
  rec(dir);
  return out.sort(cmp);
}
