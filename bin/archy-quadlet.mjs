#!/usr/bin/env node
// Runs the single-file bundle (npm run build); falls back to the sources via tsx in a checkout.
import { existsSync } from "node:fs";
const bundle = new URL("../dist/archy-quadlet.mjs", import.meta.url);
if (existsSync(bundle)) await import(bundle.href);
else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("../src/cli/run.ts", import.meta.url).href);
}
