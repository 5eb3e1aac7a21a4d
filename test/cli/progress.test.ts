import { describe, expect, it } from "vitest";
import { progress, interactive } from "../../src/cli/progress.js";
import { RecordingAdapter } from "../../src/apply/adapter.js";

const PLAN = "plan: 3 files change, systemctl daemon-reload\n  restart btc.service  (unit changed)\n  start   indexer.service  (new)";

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 60, write: (s: string) => writes.push(s) } };
}

/** What a terminal shows once every \r and erase-line has been applied. */
function screen(writes: string[]): string {
  const lines: string[] = [""];
  for (const w of writes) {
    for (const part of w.split(/(\r\x1b\[K|\n)/)) {
      if (part === "\r\x1b[K") lines[lines.length - 1] = "";
      else if (part === "\n") lines.push("");
      else lines[lines.length - 1] += part;
    }
  }
  return lines.join("\n");
}

async function applyLike(p: ReturnType<typeof progress>, failIndexer = false) {
  const adapter = p.wrap(new RecordingAdapter([(c) => (failIndexer && c.args[1] === "indexer.service" ? { code: 1, stdout: "", stderr: "boom" } : undefined)]));
  p.log(PLAN);
  await adapter.run("systemctl", ["daemon-reload"]);
  p.log("switched to generation 4");
  p.log("restart btc.service (unit changed)");
  await adapter.run("systemctl", ["restart", "btc.service"]);
  p.log("start indexer.service (new)");
  const r = await adapter.run("systemctl", ["start", "indexer.service"]);
  if (r.code !== 0) p.log("start indexer.service failed: boom");
  p.end();
}

describe("progress", () => {
  it("piped / journald: exactly the log lines, one per step, through the plain writer", async () => {
    const lines: string[] = [];
    const { writes, stream } = fakeStream(false);
    await applyLike(progress(stream, (l) => lines.push(l)));
    expect(writes).toEqual([]);
    expect(lines).toEqual([PLAN, "switched to generation 4", "restart btc.service (unit changed)", "start indexer.service (new)"]);
  });

  it("terminal: one line rewritten in place with \\r, a summary when the plan's steps are done", async () => {
    let t = 0;
    const { writes, stream } = fakeStream(true);
    const p = progress(stream, () => expect.unreachable(), { tty: true, now: () => (t += 1500) });
    await applyLike(p);
    expect(writes.some((w) => w.startsWith("\r\x1b[K[1/2] restart btc.service (unit changed) … "))).toBe(true);
    expect(writes.some((w) => w.startsWith("\r\x1b[K[2/2] start indexer.service (new) … "))).toBe(true);
    expect(writes.some((w) => w.startsWith("\r\x1b[Ksystemctl daemon-reload … "))).toBe(true);
    // Nothing transient is left on screen; the plan and the summary stay.
    expect(screen(writes)).toBe(`${PLAN}\nswitched to generation 4\n2/2 steps done in 7s\n`);
    expect(writes.every((w) => !w.includes("\n") || w.endsWith("\n"))).toBe(true);
  });

  it("terminal: a failed step is counted and its error stays on screen", async () => {
    const { writes, stream } = fakeStream(true);
    await applyLike(progress(stream, () => {}, { tty: true, now: () => 0 }), true);
    expect(screen(writes)).toBe(`${PLAN}\nswitched to generation 4\n2/2 steps done, 1 failed in 0s\nstart indexer.service failed: boom\n`);
  });

  it("long lines are cut to the terminal width", async () => {
    const { writes, stream } = fakeStream(true);
    const p = progress(stream, () => {}, { tty: true, now: () => 0 });
    p.log(`restart ${"x".repeat(100)}.service (unit changed)`);
    p.end();
    expect(writes[0]!.length).toBeLessThanOrEqual("\r\x1b[K".length + 59);
  });

  it("interactive only on a TTY, never under journald or TERM=dumb", () => {
    expect(interactive({ isTTY: true, write: () => true }, {})).toBe(true);
    expect(interactive({ isTTY: false, write: () => true }, {})).toBe(false);
    expect(interactive({ isTTY: true, write: () => true }, { JOURNAL_STREAM: "8:1" })).toBe(false);
    expect(interactive({ isTTY: true, write: () => true }, { TERM: "dumb" })).toBe(false);
  });
});
