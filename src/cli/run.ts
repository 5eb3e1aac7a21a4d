#!/usr/bin/env node
// The process entry (the bundle's first line): run main() and hand its code to Node.
import { main } from "./main.js";

// `archy-quadlet diff | head` closes the pipe early: that is not an error.
for (const s of [process.stdout, process.stderr]) {
  s.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

process.exitCode = await main(process.argv.slice(2));
