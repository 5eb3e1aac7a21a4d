// Generations: pruning to the last N, the `generations` listing, rollback (to
// the previous good one or --to an id) restarting exactly what differs.
import { afterEach, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { apply, rollback } from "../../src/apply/apply.js";
import { currentId, prune, readMeta } from "../../src/apply/state.js";
import { cleanup, edit, genIds, inputs, logged, runCli, show, testEnv, viewHash, workspace, type Workspace } from "./helpers.js";

afterEach(cleanup);

let n = 0;
/** A new web version each time: a new generation restarting web + web-worker. */
function bump(ws: Workspace): void {
  edit(ws, "web.yaml", (s) => s.replace(/version: "[^"]+"/, `version: "9.${++n}"`));
}

const nodeArgs = (ws: Workspace) => ["--root", ws.root];
const applyArgs = (ws: Workspace) => ["apply", ...nodeArgs(ws), "--manifests", ws.manifests, "--secrets", ws.secrets];

describe("keeping generations", () => {
  it("keeps the last 3 by default, --keep N otherwise, and always the current one", async () => {
    const ws = workspace();
    for (let i = 0; i < 5; i++) {
      if (i) bump(ws);
      await apply(testEnv(ws), inputs(ws));
    }
    expect(genIds(ws.root)).toEqual(["3", "4", "5"]);
    bump(ws);
    const env = testEnv(ws);
    await apply(env, inputs(ws, { keep: 1 }));
    expect(genIds(ws.root)).toEqual(["6"]);
    expect(env.lines).toContain("pruned generations 3, 4, 5");

    // The CLI flag, and its validation.
    bump(ws);
    expect((await runCli([...applyArgs(ws), "--keep", "2"], { log: ws.log })).code).toBe(0);
    expect(genIds(ws.root)).toEqual(["6", "7"]);
    bump(ws);
    const bad = await runCli([...applyArgs(ws), "--keep", "0"], { log: ws.log });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--keep: expected a positive integer, got "0"');
    expect(genIds(ws.root)).toEqual(["6", "7"]);
  });

  it("pruning never removes a protected generation (the current one after a rollback)", async () => {
    const ws = workspace();
    for (let i = 0; i < 4; i++) {
      if (i) bump(ws);
      await apply(testEnv(ws), inputs(ws, { keep: 5 }));
    }
    await rollback(testEnv(ws), 1);
    expect(prune(ws.root, 2, new Set([currentId(ws.root)!]))).toEqual([2]);
    expect(genIds(ws.root)).toEqual(["1", "3", "4"]);
    expect(viewHash(ws.root)).toBe(readMeta(ws.root, 1)!.treeHash);
    // and the next apply prunes relative to the new generation, keeping it
    bump(ws);
    await apply(testEnv(ws), inputs(ws, { keep: 1 }));
    expect(genIds(ws.root)).toEqual(["5"]);
    await expect(rollback(testEnv(ws))).rejects.toThrow("no earlier generation to roll back to");
  });
});

describe("generations", () => {
  it("lists id, current, state, time, manifest hash (text and --json)", async () => {
    const ws = workspace();
    const none = await runCli(["generations", ...nodeArgs(ws)]);
    expect(none).toMatchObject({ code: 0, stdout: "no generations yet (run apply)\n" });
    expect(JSON.parse((await runCli(["generations", "--json", ...nodeArgs(ws)])).stdout)).toEqual({ generations: [] });

    await apply(testEnv(ws), inputs(ws));
    bump(ws);
    await apply(testEnv(ws), inputs(ws));
    const t = await runCli(["generations", ...nodeArgs(ws)]);
    expect(t.code).toBe(0);
    const lines = t.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("ID  CURRENT  STATE    TIME                      MANIFESTS         NOTE");
    const [m1, m2] = [readMeta(ws.root, 1)!, readMeta(ws.root, 2)!];
    expect(lines[1]).toBe(`1            good     ${m1.time.padEnd(25)} ${m1.manifestHash}`);
    expect(lines[2]).toBe(`2   *        good     ${m2.time.padEnd(25)} ${m2.manifestHash}`);
    expect(lines).toHaveLength(3);

    const j = JSON.parse((await runCli(["generations", "--json", ...nodeArgs(ws)])).stdout) as { generations: Record<string, unknown>[] };
    expect(j.generations).toEqual([
      { ...m1, current: false },
      { ...m2, current: true },
    ]);
    for (const g of j.generations) {
      expect(Object.keys(g).sort()).toEqual(expect.arrayContaining(["current", "id", "manifestHash", "state", "time", "treeHash"]));
      expect(g.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  });
});

describe("rollback", () => {
  it("apply A, apply B, rollback: A's tree is active and exactly what differs restarts", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    const a = readMeta(ws.root, 1)!;
    // B: web changes, indexer goes away (so bitcoin.conf changes too)
    bump(ws);
    rmSync(join(ws.manifests, "indexer.yaml"));
    await apply(testEnv(ws), inputs(ws));
    expect(viewHash(ws.root)).toBe(readMeta(ws.root, 2)!.treeHash);

    const env = testEnv(ws);
    const r = await rollback(env);
    expect(r.generation).toBe(1);
    expect(currentId(ws.root)).toBe(1);
    expect(viewHash(ws.root)).toBe(a.treeHash);
    expect(env.quadletRuns).toHaveLength(1); // the target is preflighted too
    expect(show(env.adapter.calls)).toEqual([
      "systemctl daemon-reload",
      "systemctl restart btc.service",
      "systemctl start indexer.service",
      "systemctl restart web.service",
      "systemctl restart web-worker.service",
    ]);
    expect(env.lines[0]).toMatch(/^rollback 2 → 1\nplan: \d+ files change, systemctl daemon-reload/);
    expect(readMeta(ws.root, 2)).toMatchObject({ state: "failed", note: "rolled back to 1" });
  });

  it("through the CLI, and again: the default target skips generations marked failed", async () => {
    const ws = workspace();
    for (let i = 0; i < 3; i++) {
      if (i) bump(ws);
      await apply(testEnv(ws), inputs(ws));
    }
    const r1 = await runCli(["rollback", ...nodeArgs(ws)], { log: ws.log });
    expect(r1.code).toBe(0);
    expect(r1.stdout).toContain("rollback 3 → 2");
    expect(r1.stdout).toContain("switched to generation 2");
    expect(show(logged(ws.log))).toEqual(["systemctl daemon-reload", "systemctl restart web.service", "systemctl restart web-worker.service"]);
    const r2 = await runCli(["rollback", ...nodeArgs(ws)], { log: ws.log });
    expect(r2.stdout).toContain("rollback 2 → 1");
    expect(currentId(ws.root)).toBe(1);
    expect(viewHash(ws.root)).toBe(readMeta(ws.root, 1)!.treeHash);
    const r3 = await runCli(["rollback", ...nodeArgs(ws)], { log: ws.log });
    expect(r3.code).toBe(3);
    expect(r3.stderr).toBe("error: no earlier generation to roll back to\n");
  });

  it("--to ID switches to that generation (back or forward) and restarts exactly the difference", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws)); // 1
    edit(ws, "indexer.yaml", (s) => s.replace('version: "1.0"', 'version: "1.1"'));
    await apply(testEnv(ws), inputs(ws)); // 2: indexer differs from 1
    bump(ws);
    await apply(testEnv(ws), inputs(ws)); // 3: indexer and web differ from 1
    const env = testEnv(ws);
    await rollback(env, 1);
    expect(show(env.adapter.calls)).toEqual([
      "systemctl daemon-reload",
      "systemctl restart indexer.service",
      "systemctl restart web.service",
      "systemctl restart web-worker.service",
    ]);
    expect(viewHash(ws.root)).toBe(readMeta(ws.root, 1)!.treeHash);

    const fwd = await runCli(["rollback", "--to", "2", ...nodeArgs(ws)], { log: ws.log });
    expect(fwd.code).toBe(0);
    expect(show(logged(ws.log))).toEqual(["systemctl daemon-reload", "systemctl restart indexer.service"]);
    expect(viewHash(ws.root)).toBe(readMeta(ws.root, 2)!.treeHash);
    expect(readMeta(ws.root, 1)!.state).toBe("good"); // rolling forward does not fail the one left
  });

  it("nothing to roll back to, unknown or current targets: clear errors, non-zero, nothing switched", async () => {
    const ws = workspace();
    const fresh = await runCli(["rollback", ...nodeArgs(ws)], { log: ws.log });
    expect(fresh.code).toBe(3);
    expect(fresh.stderr).toBe("error: no earlier generation to roll back to\n");

    await apply(testEnv(ws), inputs(ws));
    const one = await runCli(["rollback", ...nodeArgs(ws)], { log: ws.log });
    expect(one.code).toBe(3);
    expect(one.stderr).toBe("error: no earlier generation to roll back to\n");
    const missing = await runCli(["rollback", "--to", "99", ...nodeArgs(ws)], { log: ws.log });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe("error: generation 99 does not exist (see: archy-quadlet generations)\n");
    const cur = await runCli(["rollback", "--to", "1", ...nodeArgs(ws)], { log: ws.log });
    expect(cur.code).toBe(3);
    expect(cur.stderr).toBe("error: generation 1 is already current\n");
    const junk = await runCli(["rollback", "--to", "x", ...nodeArgs(ws)], { log: ws.log });
    expect(junk.code).toBe(2);
    expect(junk.stderr).toContain('--to: expected a generation id, got "x"');
    expect(logged(ws.log)).toEqual([]);
    expect(currentId(ws.root)).toBe(1);
  });
});
