// Crash-test hook: ARCHY_QUADLET_CRASH_AFTER=N makes the process SIGKILL itself
// right after its N-th mutating filesystem operation. Costs one comparison otherwise.
// ARCHY_QUADLET_COUNT_FSOPS=<file> writes the number of such operations there at exit,
// so a test knows the range of crash points without searching for it.
import { writeFileSync } from "node:fs";

let count = 0;
const limit = Number(process.env.ARCHY_QUADLET_CRASH_AFTER ?? 0);
const countFile = process.env.ARCHY_QUADLET_COUNT_FSOPS;
if (countFile) process.once("exit", () => writeFileSync(countFile, `${count}\n`));

export function tick(): void {
  count++;
  if (limit > 0 && count >= limit) process.kill(process.pid, "SIGKILL");
}
