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

// The YAML parser reads process.env.LOG_TOKENS once per token (and LOG_STREAM once per
// node); each read of the real environment is a getenv() through Node's interceptor —
// measured at a quarter to two fifths of all YAML time on a 1,000-app catalog. A plain
// copy holds the same values and is what child processes inherit; nothing here sets
// variables for native code to see.
process.env = { ...process.env };

process.exitCode = await main(process.argv.slice(2));
