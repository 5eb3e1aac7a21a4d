// A lock contender in its own process (run with tsx by lock.test.ts):
//   hold <stateDir>                 take the lock, say "held", wait to be killed
//   loop <stateDir> <n> <marker>    n times: take the lock, create <marker> with O_EXCL
//                                   (fails if another holder has it), hold briefly, remove it, release
import { closeSync, openSync, rmSync } from "node:fs";
import { acquireLock } from "../../src/apply/lock.js";

const [mode, stateDir, n, marker] = process.argv.slice(2);
if (mode === "hold") {
  await acquireLock(stateDir!, 10_000, () => {});
  process.stdout.write("held\n");
  setInterval(() => {}, 1000);
} else {
  for (let i = 0; i < Number(n); i++) {
    const release = await acquireLock(stateDir!, 60_000, () => {}, { pollMs: 1 });
    closeSync(openSync(marker!, "wx")); // EEXIST here means two holders at once
    await new Promise((r) => setImmediate(r));
    rmSync(marker!);
    await release();
  }
}
