// The lock: concurrent applies never interleave, a live holder makes others
// wait (and time out with exit 4), a dead holder's lock is taken over.
import { afterEach, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apply } from "../../src/apply/apply.js";
import { currentId, readMeta } from "../../src/apply/state.js";
import { CLI, REPO, STATE, cleanup, entries, inputs, logged, quadletBin, runCli, show, testEnv, variant, viewHash, workspace, writeExecutable } from "./helpers.js";

afterEach(cleanup);

const lockPath = (root: string) => join(root, STATE, "lock");

function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(String(r.stdout));
}

describe("lock", () => {
  it("a live holder: apply waits, says so, and with --lock-timeout 1 gives up with exit 4 having changed nothing", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    writeFileSync(lockPath(ws.root), `${process.pid}\n`); // held by this (live) test process
    const before = entries(join(ws.root, STATE));
    // a different manifests path: every unit changes, so this is not a no-op
    const other = variant(ws, "other", "web.yaml", (t) => t.replace('version: "1.0"', 'version: "2.0"'));
    const t0 = Date.now();
    const r = await runCli(["apply", "--lock-timeout", "1", "--root", ws.root, "--manifests", other, "--secrets", ws.secrets], { log: ws.log });
    expect(r.code).toBe(4);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(r.stdout).toContain(`waiting for lock held by pid ${process.pid} (another apply, rollback or reconcile)`);
    expect(r.stderr).toBe(`error: another archy-quadlet (pid ${process.pid}) holds ${lockPath(ws.root)}; gave up after 1 s\n`);
    expect(logged(ws.log)).toEqual([]);
    expect(entries(join(ws.root, STATE))).toEqual(before);

    // rollback and reconcile take the same lock
    const rb = await runCli(["rollback", "--lock-timeout", "1", "--root", ws.root], { log: ws.log });
    expect(rb.code).toBe(4);
    expect(rb.stdout).toContain(`waiting for lock held by pid ${process.pid}`);
  });

  it("a live holder releasing the lock: the waiting apply then proceeds", async () => {
    const ws = workspace();
    mkdirSync(join(ws.root, STATE), { recursive: true });
    writeFileSync(lockPath(ws.root), `${process.pid}\n`);
    const child = spawn(process.execPath, [...CLI.argv, "apply", "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets], {
      cwd: REPO,
      env: { ...process.env, QUADLET_BIN: quadletBin(), ARCHY_QUADLET_ADAPTER: `record:${ws.log}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    const waiting = new Promise<void>((resolve) =>
      child.stdout.on("data", (d: Buffer) => {
        stdout += String(d);
        if (stdout.includes(`waiting for lock held by pid ${process.pid}`)) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await waiting;
    await new Promise((r) => setTimeout(r, 300));
    expect(logged(ws.log)).toEqual([]); // still waiting: nothing done
    expect(existsSync(join(ws.root, STATE, "current"))).toBe(false);
    rmSync(lockPath(ws.root));
    expect(await exited).toBe(0);
    expect(stdout).toContain("switched to generation 1");
    expect(currentId(ws.root)).toBe(1);
    expect(existsSync(lockPath(ws.root))).toBe(false); // released
  });

  it("a stale lock (dead pid, or no pid at all) is taken over", async () => {
    const ws = workspace();
    mkdirSync(join(ws.root, STATE), { recursive: true });
    const dead = deadPid();
    writeFileSync(lockPath(ws.root), `${dead}\n`);
    const r = await runCli(["apply", "--lock-timeout", "1", "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets], { log: ws.log });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("waiting for lock");
    expect(currentId(ws.root)).toBe(1);
    expect(existsSync(lockPath(ws.root))).toBe(false);

    // An empty lock file (what a crash between creating and writing it would leave) blocks nobody.
    writeFileSync(lockPath(ws.root), "");
    const env = testEnv(ws);
    const other = variant(ws, "other", "web.yaml", (t) => t.replace('version: "1.0"', 'version: "2.0"'));
    const r2 = await apply(env, inputs(ws, { manifests: other }));
    expect(r2.generation).toBe(2);
    expect(env.lines.some((l) => l.startsWith("waiting for lock"))).toBe(false);
    expect(readdirSync(join(ws.root, STATE)).filter((n) => n.startsWith("lock"))).toEqual([]);
  });

  it("two concurrent applies on one root never interleave", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    // Both runs share one call log; the quadlet preflight (inside the lock) is slowed down
    // and logs its begin and end with the pid of the apply that ran it.
    const real = quadletBin();
    const slow = writeExecutable(
      join(ws.dir, "slow/quadlet"),
      `#!/bin/sh\necho "{\\"cmd\\":\\"quadlet-begin\\",\\"args\\":[],\\"pid\\":$PPID}" >> "${ws.log}"\nsleep 2\n"${real}" "$@"\nrc=$?\necho "{\\"cmd\\":\\"quadlet-end\\",\\"args\\":[],\\"pid\\":$PPID}" >> "${ws.log}"\nexit $rc\n`,
    );
    const dirs = [
      variant(ws, "x", "web.yaml", (t) => t.replace('version: "1.0"', 'version: "2.0"')),
      variant(ws, "y", "indexer.yaml", (t) => t.replace('version: "1.0"', 'version: "2.0"')),
    ];
    const runs = await Promise.all(
      dirs.map((d) => runCli(["apply", "--quadlet", slow, "--root", ws.root, "--manifests", d, "--secrets", ws.secrets], { log: ws.log })),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const calls = logged(ws.log);
    const pids = calls.map((c) => c.pid);
    // each process's calls form one contiguous block: A…A B…B
    const blocks = pids.filter((p, i) => i === 0 || pids[i - 1] !== p);
    expect(new Set(pids).size).toBe(2);
    expect(blocks).toHaveLength(2);
    for (const pid of blocks) {
      const mine = show(calls.filter((c) => c.pid === pid));
      expect(mine[0]).toBe("quadlet-begin");
      expect(mine[1]).toBe("quadlet-end");
      expect(mine[2]).toBe("systemctl daemon-reload");
    }
    // The one that ran second waited for the first and is current now.
    const second = runs.find((r) => r.stdout.includes("switched to generation 3"))!;
    expect(second.stdout).toMatch(/waiting for lock held by pid \d+/);
    expect(currentId(ws.root)).toBe(3);
    expect(viewHash(ws.root)).toBe(readMeta(ws.root, 3)!.treeHash);
    expect(readMeta(ws.root, 2)!.state).toBe("good");
  });
});
