// A rollback's restarts may take minutes (a health-gated service starts again);
// the 30 s reconciler must not re-apply the release being rolled back meanwhile.
// Found on the booted node (test/e2e/reboot.e2e.ts): reconcile saw the switch to
// the old generation before the newer one was marked failed, waited for the
// rollback's lock and re-applied the bad release as a new generation.
import { afterEach, describe, expect, it } from "vitest";
import { apply, reconcile, rollback } from "../../src/apply/apply.js";
import { currentId, listGenerations, readMeta } from "../../src/apply/state.js";
import { cleanup, edit, inputs, show, testEnv, workspace } from "./helpers.js";

afterEach(cleanup);

describe("rollback vs reconcile", () => {
  it("the generation rolled back from is marked failed before anything restarts", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    edit(ws, "indexer.yaml", (s) => s.replace('version: "1.0"', 'version: "1.1"'));
    await apply(testEnv(ws), inputs(ws));
    const seen: string[] = [];
    const env = testEnv(ws, [
      (c) => {
        if (c.cmd === "systemctl") seen.push(`${c.args.join(" ")}: generation 2 ${readMeta(ws.root, 2)!.state}, current ${currentId(ws.root)}`);
        return undefined;
      },
    ]);
    const r = await rollback(env, 1, { markFailed: "release bad-1 failed verification" });
    expect(r.failures).toEqual([]);
    expect(seen.length).toBeGreaterThan(0);
    for (const line of seen) expect(line).toMatch(/generation 2 failed/);
  });

  it("a reconcile that decided before the rollback finished re-checks under the lock and does not re-apply", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    edit(ws, "indexer.yaml", (s) => s.replace('version: "1.0"', 'version: "1.1"'));
    await apply(testEnv(ws), inputs(ws)); // generation 2, the recorded inputs describe it
    // The reconcile's apply is started from inside the rollback's first restart: it decided
    // (without the lock) while generation 1 was already switched to, and now waits for the lock.
    let pending: Promise<unknown> | undefined;
    const renv = testEnv(ws);
    const env = testEnv(ws, [
      (c) => {
        if (!pending && c.cmd === "systemctl" && c.args[0] === "restart") pending = apply(renv, inputs(ws), { notRolledBack: true });
        return undefined;
      },
    ]);
    await rollback(env, 1, { markFailed: "release failed verification" });
    await pending;
    expect(currentId(ws.root)).toBe(1);
    expect(listGenerations(ws.root).map((g) => g.id)).toEqual([1, 2]);
    expect(show(renv.adapter.calls)).toEqual([]);
    expect(renv.lines.join("\n")).toMatch(/failed and was rolled back; not re-applying/);
    // And the reconciler itself, afterwards: no drift to act on.
    expect(await reconcile(testEnv(ws))).toBeUndefined();
    expect(currentId(ws.root)).toBe(1);
    // An operator's explicit apply still re-applies (fixing the release is their call).
    const again = await apply(testEnv(ws), inputs(ws));
    expect(again.generation).toBe(3);
  });
});
