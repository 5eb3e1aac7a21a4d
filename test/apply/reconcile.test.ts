// reconcile: recompile the recorded inputs and re-apply only on drift; never
// undo a rollback.
import { afterEach, describe, expect, it } from "vitest";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apply, reconcile, rollback } from "../../src/apply/apply.js";
import { currentId, listGenerations, readGeneration, readMeta, writeMeta } from "../../src/apply/state.js";
import { activeView, cleanup, edit, inputs, logged, runCli, show, snapshot, testEnv, workspace } from "./helpers.js";

afterEach(cleanup);

const UNITS = "etc/containers/systemd/archy";

describe("reconcile", () => {
  it("restores a hand-edited derived config in a new generation and restarts exactly its consumer", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    const want = readGeneration(ws.root, 1);
    const conf = join(ws.root, "etc/archy/btc/bitcoin.conf");
    writeFileSync(conf, readFileSync(conf, "utf8") + "rpcallowip=0.0.0.0/0\n");

    const env = testEnv(ws);
    const r = await reconcile(env);
    expect(r?.generation).toBe(2);
    expect(env.lines[0]).toBe("drift found: applying");
    expect(r!.plan.changed).toEqual(["etc/archy/btc/bitcoin.conf"]);
    expect(show(env.adapter.calls)).toEqual(["systemctl restart btc.service"]);
    expect(readFileSync(conf)).toEqual(want.get("etc/archy/btc/bitcoin.conf")!.content);
    expect(activeView(ws.root)).toEqual(want);
    expect(readMeta(ws.root, 2)!.state).toBe("good");
  });

  it("restores a deleted unit and removes a stray file (CLI)", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    rmSync(join(ws.root, UNITS, "web-worker.container"));
    writeFileSync(join(ws.root, "etc/archy/btc/stray.conf"), "x\n");
    const r = await runCli(["reconcile", "--root", ws.root], { log: ws.log });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("drift found: applying");
    expect(show(logged(ws.log))).toEqual(["podman ps -a --format json", "systemctl daemon-reload", "systemctl start web-worker.service"]);
    const view = activeView(ws.root);
    expect(view.has(`${UNITS}/web-worker.container`)).toBe(true);
    expect(view.has("etc/archy/btc/stray.conf")).toBe(false);
    expect(currentId(ws.root)).toBe(2);
  });

  it("without drift: no calls, nothing written (CLI and in-process)", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    const before = snapshot(ws.dir);
    const env = testEnv(ws);
    expect(await reconcile(env)).toBeUndefined();
    expect(env.adapter.calls).toEqual([]);
    expect(env.quadletRuns).toEqual([]);
    const r = await runCli(["reconcile", "--root", ws.root], { log: ws.log });
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    const j = await runCli(["reconcile", "--json", "--root", ws.root], { log: ws.log });
    expect(JSON.parse(j.stdout)).toEqual({ drift: false });
    expect(logged(ws.log)).toEqual([]);
    expect(snapshot(ws.dir)).toEqual(before);
  });

  it("after a CLI rollback (which marks the newer generation failed) reconcile does not re-apply it", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    edit(ws, "web.yaml", (s) => s.replace("nginx:1.27", "nginx:1.28"));
    await apply(testEnv(ws), inputs(ws));
    const rb = await runCli(["rollback", "--root", ws.root], { log: ws.log });
    expect(rb.code).toBe(0);
    expect(readMeta(ws.root, 2)).toMatchObject({ state: "failed", note: "rolled back to 1" });

    rmSync(ws.log);
    const before = snapshot(ws.dir);
    const r = await runCli(["reconcile", "--root", ws.root], { log: ws.log });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      "inputs describe generation 2, which failed and was rolled back; not re-applying (fix the release, then run apply)\n",
    );
    expect(logged(ws.log)).toEqual([]);
    expect(currentId(ws.root)).toBe(1);
    expect(snapshot(ws.dir)).toEqual(before);
  });

  it("after an OTA-style rollback with markFailed, likewise", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    edit(ws, "indexer.yaml", (s) => s.replace('version: "1.0"', 'version: "1.1"'));
    await apply(testEnv(ws), inputs(ws));
    await rollback(testEnv(ws), undefined, { markFailed: "release r2 failed verification" });
    expect(readMeta(ws.root, 2)).toMatchObject({ state: "failed", note: "release r2 failed verification" });
    const env = testEnv(ws);
    expect(await reconcile(env)).toBeUndefined();
    expect(env.adapter.calls).toEqual([]);
    expect(currentId(ws.root)).toBe(1);
    // An explicit apply of the same inputs is the operator's call: it goes ahead.
    const again = testEnv(ws);
    const r = await apply(again, inputs(ws));
    expect(r.generation).toBe(3);
    expect(show(again.adapter.calls)).toEqual(["systemctl daemon-reload", "systemctl restart indexer.service"]);
    const after = testEnv(ws);
    expect(await reconcile(after)).toBeUndefined();
    expect(after.adapter.calls).toEqual([]);
  });

  it("resumes an activation cut short after the switch (current still 'applied'): the owed reload and restarts happen, no new generation", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    edit(ws, "web.yaml", (s) => s.replace('version: "1.0"', 'version: "1.1"'));
    await apply(testEnv(ws), inputs(ws));
    // What a SIGKILL right after the switch leaves: current → 2, meta still "applied".
    writeMeta(ws.root, { ...readMeta(ws.root, 2)!, state: "applied" });
    const env = testEnv(ws);
    const r = await reconcile(env);
    expect(r?.generation).toBe(2);
    expect(env.lines.join("\n")).toContain("generation 2 was switched to but its activation did not finish: resuming");
    expect(show(env.adapter.calls)).toEqual(["systemctl daemon-reload", "systemctl restart web.service", "systemctl restart web-worker.service"]);
    expect(readMeta(ws.root, 2)!.state).toBe("good");
    expect(listGenerations(ws.root).map((g) => g.id)).toEqual([1, 2]);
    expect(env.quadletRuns).toEqual([]); // nothing new to preflight
    const again = testEnv(ws);
    expect(await reconcile(again)).toBeUndefined();
    expect(again.adapter.calls).toEqual([]);
  });

  it("with no recorded inputs: a clear error, exit 2", async () => {
    const ws = workspace();
    const r = await runCli(["reconcile", "--root", ws.root], { log: ws.log });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: no recorded inputs at .*inputs\.json: run apply once first\n$/);
  });
});
