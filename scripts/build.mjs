#!/usr/bin/env node
// npm run build → dist/archy-quadlet.mjs: one self-contained ESM file, every
// dependency inlined, runnable with `node dist/archy-quadlet.mjs` and no
// node_modules anywhere (a node gets this one file as /usr/local/bin/archy-quadlet).
// A plain esbuild bundle: no code held as strings, no patched packages; one
// plugin, scripts/hbs.mjs, loads templates/*.hbs precompiled (handlebars'
// runtime is bundled, its compiler is not). Identifiers are not minified
// (readable stack traces).
//
// buildBundle() is the one way to build it: this script, bench/run.mjs and the
// tests that run the CLI as a process all call it.
//
// Flags: --metafile writes dist/meta.json (inputs and their bytes in the
// output); --quiet prints nothing on success.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { hbsEsbuild } from "./hbs.mjs";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BUNDLE = join(ROOT, "dist", "archy-quadlet.mjs");
/** Everything the bundle is made of: a bundle older than any of these is stale. */
const INPUTS = ["src", "templates", "package-lock.json", "scripts/build.mjs", "scripts/hbs.mjs"];

function files(rel, out = []) {
  const abs = join(ROOT, rel);
  if (statSync(abs).isDirectory()) for (const n of readdirSync(abs).sort()) files(join(rel, n), out);
  else out.push(rel);
  return out;
}

/**
 * The build's identity, a hash of every input. reconcile's fingerprint includes
 * it, so a node that gets a new binary recompiles once even if its inputs did not
 * change; a run from the sources has none and always compiles.
 */
function buildId() {
  const h = createHash("sha256");
  for (const rel of INPUTS.flatMap((r) => files(r))) h.update(`${rel}\0`).update(readFileSync(join(ROOT, rel)));
  return h.digest("hex").slice(0, 32);
}

/** Whether `outfile` is older than any input (or missing). */
export function stale(outfile = BUNDLE) {
  let built;
  try {
    built = statSync(outfile).mtimeMs;
  } catch {
    return true;
  }
  return INPUTS.flatMap((r) => files(r)).some((rel) => statSync(join(ROOT, rel)).mtimeMs > built);
}

/** Build the bundle to `outfile`; returns its size, input count and esbuild's metafile. */
export async function buildBundle({ outfile = BUNDLE } = {}) {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, "src/cli/run.ts")],
    write: false,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    packages: "bundle",
    mainFields: ["module", "main"],
    conditions: ["node", "import"],
    // commander and yaml are CommonJS and call require("events") etc.; in an ESM
    // bundle esbuild's __require needs a real `require` to forward to.
    banner: { js: 'import { createRequire as __archyCreateRequire } from "node:module";\nconst require = __archyCreateRequire(import.meta.url);' },
    define: { __ARCHY_BUILD__: JSON.stringify(buildId()) },
    minifySyntax: true,
    minifyWhitespace: true,
    minifyIdentifiers: false,
    legalComments: "none",
    metafile: true,
    logLevel: "warning",
    plugins: [hbsEsbuild],
  });
  // Nothing may be left as an import of a package: it would need node_modules at run time.
  const external = Object.values(result.metafile.outputs).flatMap((o) => o.imports).filter((i) => i.external && !isBuiltin(i.path));
  if (external.length > 0) throw new Error(`bundle still imports packages: ${external.map((i) => `${i.path} (${i.kind})`).join(", ")}`);

  let text = result.outputFiles[0].text;
  if (!text.startsWith("#!")) text = `#!/usr/bin/env node\n${text}`;
  // Written next to the target and renamed over it: a test or bench running the
  // bundle while it is rebuilt sees the old file or the new one, never half.
  mkdirSync(dirname(outfile), { recursive: true });
  const tmp = `${outfile}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o755 });
  chmodSync(tmp, 0o755);
  renameSync(tmp, outfile);
  return { outfile, bytes: Buffer.byteLength(text), inputs: Object.keys(result.metafile.inputs).length, metafile: result.metafile };
}

function isBuiltin(p) {
  const name = p.replace(/^node:/, "");
  return builtinModules.includes(name) || builtinModules.includes(name.split("/")[0]);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = new Set(process.argv.slice(2));
  const started = performance.now();
  try {
    const r = await buildBundle();
    if (args.has("--metafile")) writeFileSync(join(ROOT, "dist", "meta.json"), JSON.stringify(r.metafile));
    if (!args.has("--quiet")) {
      console.log(`${relative(ROOT, r.outfile)}: ${(r.bytes / 1024).toFixed(1)} KiB (${r.bytes} bytes), ${r.inputs} inputs, ${Math.round(performance.now() - started)} ms`);
    }
  } catch (e) {
    console.error(`build: ${e.message}`);
    process.exitCode = 1;
  }
}
