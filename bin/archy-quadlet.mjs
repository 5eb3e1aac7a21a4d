#!/usr/bin/env node
// Runs the single-file bundle (npm run build). In a checkout whose sources are
// newer than the bundle, runs the sources through tsx instead, so a stale
// dist/ never hides an edit.
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const bundle = new URL("../dist/archy-quadlet.mjs", import.meta.url);
const src = fileURLToPath(new URL("../src", import.meta.url));
const templates = fileURLToPath(new URL("../templates", import.meta.url));

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const fresh = existsSync(bundle) && (!existsSync(src) || statSync(bundle).mtimeMs >= Math.max(newest(src), newest(templates)));
if (fresh) await import(bundle.href);
else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("../src/cli/run.ts", import.meta.url).href);
}
