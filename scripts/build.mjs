#!/usr/bin/env node
// npm run build → dist/archy-quadlet.mjs: one self-contained ESM file, every
// dependency inlined, runnable with `node dist/archy-quadlet.mjs` and no
// node_modules anywhere. Identifiers are not minified (readable stack traces).
//
// Start-up is most of what a small command costs, so the bundle is shaped for it:
// - no code splitting: esbuild wraps each dynamically imported module (and what
//   only it imports) in a lazy initialiser, so `generate` never evaluates apply
//   or hooks code;
// - execa and diff, needed by a few commands only, are embedded as data: URL
//   modules that are not even parsed until imported (coldPackages);
// - built-ins load when first used (lazyBuiltins), zod ships only its English
//   messages (zodEnglishOnly), and commander/yaml get one small patch each.
// test/bundle.test.ts runs the result alone in an empty directory.
//
// Flags: --metafile writes dist/meta.json (inputs and their bytes in the
// output); --quiet prints nothing on success.
import { build } from "esbuild";
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { builtinModules } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = join(root, "dist", "archy-quadlet.mjs");
const args = new Set(process.argv.slice(2));

// commander and yaml ship CommonJS that calls require("events") etc.; in an ESM
// bundle esbuild's __require needs a real `require` to forward to.
// (The #!/usr/bin/env node line comes from src/cli/run.ts; it is added below
// should that ever change.)
const banner = [
  'import { createRequire as __archyCreateRequire } from "node:module";',
  "const require = __archyCreateRequire(import.meta.url);",
].join("\n");

// An ESM `import … from "node:x"` is hoisted: every built-in any bundled module
// names (execa alone pulls child_process, stream, http, https, tty, timers…)
// would load before the first line runs, for every command. Turned into
// require() in a lazily initialised wrapper, a built-in loads when the module
// using it is first initialised — `generate` never loads child_process.
const builtinFilter = new RegExp(`^(node:)?(${builtinModules.filter((m) => !m.startsWith("_")).map((m) => m.replace(/[/]/g, "\\/")).join("|")})$`);
const lazyBuiltins = {
  name: "lazy-builtins",
  setup(b) {
    b.onResolve({ filter: builtinFilter }, (a) => (a.kind === "import-statement" || a.kind === "dynamic-import" ? { path: a.path.replace(/^node:/, ""), namespace: "lazy-builtin" } : undefined));
    b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (a) => ({ contents: `module.exports = require(${JSON.stringify(`node:${a.path}`)});\n`, loader: "js" }));
  },
};

// zod re-exports all ~50 of its message locales as `z.locales` (300 KiB, a
// third of the bundle, parsed and initialised on every run). Nothing here
// switches locale and zod's default (English) is imported by zod itself from
// locales/en.js, so `z.locales` keeps only `en`; messages are unchanged.
const zodEnglishOnly = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (a) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(a.importer) ? { path: join(dirname(a.importer), "../locales/index.js"), namespace: "zod-locales" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-locales" }, (a) => ({
      contents: 'export { default as en } from "./en.js";\n',
      resolveDir: dirname(a.path),
      loader: "js",
    }));
  },
};

// commander loads node:child_process at start-up only for git-style executable
// subcommands, which this CLI does not have; defer it to the first spawn.
const commanderLazyChildProcess = {
  name: "commander-lazy-child-process",
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (a) => {
      const eager = "const childProcess = require('node:child_process');";
      const text = readFileSync(a.path, "utf8");
      if (!text.includes(eager)) return { warnings: [{ text: "commander changed: node:child_process stays eager" }] };
      const lazy = "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };";
      return { contents: text.replace(eager, lazy), loader: "js" };
    });
  },
};

// yaml's CST parser reads process.env.LOG_TOKENS once per *token* (and the
// composer process.env.LOG_STREAM once per CST node) — each a getenv() through
// the process.env interceptor. That was ~60% of all YAML time on a 1,000-app
// catalog. Read both once, when the module loads; the debug switches still work.
const yamlEnvOnce = {
  name: "yaml-env-once",
  setup(b) {
    b.onLoad({ filter: /[\\/]yaml[\\/]dist[\\/](parse[\\/]parser|compose[\\/]composer)\.js$/ }, (a) => {
      const text = readFileSync(a.path, "utf8");
      const re = /node_process\.env\.(LOG_TOKENS|LOG_STREAM)\b/g;
      const names = [...new Set([...text.matchAll(re)].map((m) => m[1]))];
      if (names.length === 0) return { warnings: [{ text: "yaml changed: no per-token env reads found to hoist" }] };
      const hoisted = names.map((n) => `const __env_${n} = node_process.env.${n};`).join("\n");
      const anchor = "var node_process = require('process');";
      if (!text.includes(anchor)) return { warnings: [{ text: "yaml changed: env reads stay per token" }] };
      return { contents: text.replace(re, (_, n) => `__env_${n}`).replace(anchor, `${anchor}\n${hoisted}`), loader: "js" };
    });
  },
};

// Packages only some commands need — execa (apply, rollback, hooks) and diff
// (`diff`) — are a quarter of the bundle. Inlined as code, V8 must still scan
// them on every start; embedded as a data: URL module (a string literal, cheap
// to skip) they are compiled only when a command imports them. They must be
// imported with import(); `sourceURL` keeps their stack frames readable.
// What the bundle is made of, as one hash: the no-op stamp (src/plan/stamp.ts) trusts
// only a stamp written by exactly the same code.
function buildId() {
  const h = createHash("sha256");
  const visit = (rel) => {
    const abs = join(root, rel);
    if (statSync(abs).isDirectory()) for (const n of readdirSync(abs).sort()) visit(join(rel, n));
    else h.update(`${rel}\0`).update(readFileSync(abs));
  };
  for (const rel of ["src", "templates", "package-lock.json", "scripts/build.mjs"]) visit(rel);
  return h.digest("hex").slice(0, 32);
}

// Options every piece of the bundle shares: Node 20, everything inlined except built-ins.
const common = {
  define: { __ARCHY_BUILD__: JSON.stringify(buildId()) }, absWorkingDir: root, write: false, bundle: true, platform: "node", target: "node20", packages: "bundle", mainFields: ["module", "main"], conditions: ["node", "import"], minifySyntax: true, minifyWhitespace: true, minifyIdentifiers: false, legalComments: "none", logLevel: "warning" };

const COLD = ["execa", "diff"];
const coldUrls = new Map();
async function coldUrl(name) {
  if (!coldUrls.has(name)) {
    const r = await build({
      ...common,
      stdin: { contents: `export * from ${JSON.stringify(name)};\n`, resolveDir: root, loader: "js", sourcefile: `${name}.mjs` },
      format: "esm",
      banner: { js: 'import { createRequire as __archyCreateRequire } from "node:module";\nconst require = __archyCreateRequire(process.execPath);' },
      footer: { js: `//# sourceURL=archy-quadlet/${name}.mjs` },
    });
    coldUrls.set(name, `data:text/javascript;base64,${Buffer.from(r.outputFiles[0].text).toString("base64")}`);
  }
  return coldUrls.get(name);
}
const coldPackages = {
  name: "cold-packages",
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(${COLD.join("|")})$`) }, async (a) =>
      a.kind === "dynamic-import"
        ? { path: await coldUrl(a.path), external: true }
        : { errors: [{ text: `"${a.path}" must be loaded with await import() so that commands that do not need it never load it` }] },
    );
  },
};

// The CLI proper (commander, zod, yaml, the compiler, apply) is held as a string
// and compiled only when needed: run.ts answers a no-op `check` from a stamp
// with a few kilobytes of code. Scanning a string literal costs V8 far less
// than pre-parsing the same code; full commands pay one Function() compile.
let coreModule;
const coldCore = {
  name: "cold-core",
  setup(b) {
    b.onResolve({ filter: /^\.\/main\.js$/ }, (a) =>
      a.kind === "dynamic-import" && a.importer.endsWith(join("src", "cli", "run.ts")) ? { path: "core", namespace: "cold-core" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "cold-core" }, async () => {
      if (!coreModule) {
        const r = await build({
          ...common,
          format: "cjs",
          entryPoints: [join(root, "src/cli/main.ts")],
          footer: { js: "//# sourceURL=archy-quadlet/core.js" },
          plugins: [coldPackages, lazyBuiltins, zodEnglishOnly, commanderLazyChildProcess, yamlEnvOnce],
          metafile: true,
        });
        const ext = Object.values(r.metafile.outputs)[0].imports.filter((i) => i.external && !isBuiltin(i.path) && !i.path.startsWith("data:text/javascript;base64,"));
        if (ext.length) throw new Error(`core still imports packages: ${ext.map((i) => i.path).join(", ")}`);
        coreModule = [
          "const src = " + JSON.stringify(r.outputFiles[0].text) + ";",
          "const m = { exports: {} };",
          'new Function("require", "module", "exports", src)(require, m, m.exports);',
          "export const main = m.exports.main;",
        ].join("\n");
      }
      return { contents: coreModule, loader: "js" };
    });
  },
};

mkdirSync(dirname(outfile), { recursive: true });
const started = performance.now();
const result = await build({
  ...common,
  entryPoints: [join(root, "src/cli/run.ts")],
  outfile,
  format: "esm",
  banner: { js: banner },
  plugins: [coldCore, coldPackages, lazyBuiltins, zodEnglishOnly, commanderLazyChildProcess, yamlEnvOnce],
  metafile: true,
  logLevel: "warning",
});

if (args.has("--metafile")) writeFileSync(join(root, "dist", "meta.json"), JSON.stringify(result.metafile));

// Guard: nothing may be left as an import or require of a package (it would
// need node_modules at run time).
const output = result.metafile.outputs[relative(root, outfile)];
const external = (output?.imports ?? []).filter((i) => i.external && !isBuiltin(i.path) && !i.path.startsWith("data:text/javascript;base64,"));
if (external.length > 0) {
  console.error(`build: bundle still imports packages: ${external.map((i) => `${i.path} (${i.kind})`).join(", ")}`);
  process.exit(1);
}

// Written next to the target and renamed over it: a test or `bin/` running the
// bundle while it is rebuilt sees the old file or the new one, never half.
let text = result.outputFiles[0].text;
if (!text.startsWith("#!")) text = `#!/usr/bin/env node\n${text}`;
const tmp = `${outfile}.tmp-${process.pid}`;
writeFileSync(tmp, text, { mode: 0o755 });
chmodSync(tmp, 0o755);
renameSync(tmp, outfile);

if (!args.has("--quiet")) {
  const size = statSync(outfile).size;
  const ms = Math.round(performance.now() - started);
  console.log(`${relative(root, outfile)}: ${(size / 1024).toFixed(1)} KiB (${size} bytes), ${Object.keys(result.metafile.inputs).length} inputs, ${ms} ms`);
}

function isBuiltin(p) {
  const name = p.replace(/^node:/, "");
  return builtinModules.includes(name) || builtinModules.includes(name.split("/")[0]);
}
