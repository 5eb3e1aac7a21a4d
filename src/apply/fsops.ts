// Crash-test hook: ARCHY_QUADLET_CRASH_AFTER=N makes the process SIGKILL itself
// right after its N-th mutating filesystem operation. Costs one comparison otherwise.
let count = 0;
const limit = Number(process.env.ARCHY_QUADLET_CRASH_AFTER ?? 0);

export function tick(): void {
  count++;
  if (limit > 0 && count >= limit) process.kill(process.pid, "SIGKILL");
}

export const fsopCount = () => count;
