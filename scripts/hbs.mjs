// Config templates (templates/*.hbs) are precompiled when they are loaded by the
// build (esbuild) and by the tests (vite), so the bundle carries only handlebars'
// runtime, never its compiler. One set of options for both: strict (a missing
// value throws), noEscape (configs are not HTML), built-in helpers only.
import { readFileSync } from "node:fs";
import Handlebars from "handlebars";

export const HBS_OPTIONS = { strict: true, noEscape: true, knownHelpersOnly: true };

/** The ES module a .hbs file becomes: its precompiled template as the default export. */
export function hbsModule(source) {
  const spec = Handlebars.precompile(source, HBS_OPTIONS);
  return `import Handlebars from "handlebars/runtime.js";\nexport default Handlebars.template(${spec});\n`;
}

/** esbuild: load *.hbs as precompiled template modules. */
export const hbsEsbuild = {
  name: "hbs",
  setup(build) {
    build.onLoad({ filter: /\.hbs$/ }, (args) => ({ contents: hbsModule(readFileSync(args.path, "utf8")), loader: "js" }));
  },
};

/** vite / vitest: the same for the tests. */
export const hbsVite = {
  name: "hbs",
  enforce: "pre",
  transform(code, id) {
    return id.endsWith(".hbs") ? { code: hbsModule(code), map: null } : undefined;
  },
};

/** Node module hook (scripts/hbs-register.mjs): the same for `node --import tsx` runs of src/. */
export async function load(url, context, next) {
  if (url.startsWith("file:") && url.endsWith(".hbs")) {
    const { fileURLToPath } = await import("node:url");
    return { format: "module", source: hbsModule(readFileSync(fileURLToPath(url), "utf8")), shortCircuit: true };
  }
  return next(url, context);
}
