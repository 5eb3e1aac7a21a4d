#!/usr/bin/env node
// The one way the CLI runs: the single-file bundle (npm run build, also run by
// npm ci). A checkout runs exactly what a node runs; after editing src/, rebuild.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/archy-quadlet.mjs", import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write("archy-quadlet: dist/archy-quadlet.mjs is missing: run `npm run build`\n");
  process.exitCode = 2;
} else await import(bundle.href);
