#!/usr/bin/env node
// `archy-quadlet diff | head` closes the pipe early: that is not an error.
for (const s of [process.stdout, process.stderr]) {
  s.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const argv = process.argv.slice(2);
// The 30 s reconciler and CI call `check` constantly: a no-op answer must not
// pay for the CLI parser or the compiler. Anything but the plain form goes the full way.
const { quickCheck } = await import("./quick-check.js");
if (!quickCheck(argv)) {
  const { main } = await import("./main.js");
  process.exitCode = await main(argv);
}
