// The lock (src/apply/lock.ts, an abstract unix socket named after the state
// dir): concurrent applies never interleave, a live holder makes others wait
// (and time out with exit 4), a killed holder's lock is free at once, and no
// two contenders ever hold it together.
import { afterEach, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apply } from "../../src/apply/apply.js";
import { acquireLock, lockHeld, LockTimeout } from "../../src/apply/lock.js";
import { currentId, readMeta } from "../../src/apply/state.js";
import { CLI, REPO, STATE, cleanup, entries, inputs, logged, quadletBin, runCli, show, testEnv, variant, viewHash, workspace, writeExecutable } from "./helpers.js";

afterEach(cleanup);

const stateDir = (root: string) => join(root, STATE);
const TSX = import.meta.resolve("tsx");
const WORKER = join(import.meta.dirname, "lock-worker.ts");

/** Take the lock in this process, as another archy-quadlet would. */
async function hold(root: string): Promise<() => Promise<void>> {
  mkdirSync(stateDir(root), { recursive: true });
  return acquireLock(stateDir(root), 1000, () => {});
}

function worker(args: string[]): ChildProcess {
  return spawn(process.execPath, ["--import", TSX, WORKER, ...args], { stdio: ["ignore", "pipe", "pipe"] });
}

describe("lock", () => {
  it("a live holder: apply waits, says so, and with --lock-timeout 1 gives up with exit 4 having changed nothing", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    const release = await hold(ws.root); // held by this (live) test process
    const before = entries(join(ws.root, STATE));
    // a different manifests path: every unit changes, so this is not a no-op
    const other = variant(ws, "other", "web.yaml", (t) => t.replace('version: "1.0"', 'version: "2.0"'));
    const t0 = Date.now();
    const r = await runCli(["apply", "--lock-timeout", "1", "--root", ws.root, "--manifests", other, "--secrets", ws.secrets], { log: ws.log });
    expect(r.code).toBe(4);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(r.stdout).toContain(`waiting for lock held by pid ${process.pid} (another apply, rollback or reconcile)`);
    expect(r.stderr).toBe(`error: another archy-quadlet (pid ${process.pid}) holds the lock on ${stateDir(ws.root)}; gave up after 1 s\n`);
    expect(logged(ws.log)).toEqual([]);
    expect(entries(join(ws.root, STATE))).toEqual(before);

    // rollback and reconcile take the same lock
    const rb = await runCli(["rollback", "--lock-timeout", "1", "--root", ws.root], { log: ws.log });
    expect(rb.code).toBe(4);
    expect(rb.stdout).toContain(`waiting for lock held by pid ${process.pid}`);
    await release();
  });

  it("a live holder releasing the lock: the waiting apply then proceeds", async () => {
    const ws = workspace();
    const release = await hold(ws.root);
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
    await release();
    expect(await exited).toBe(0);
    expect(stdout).toContain("switched to generation 1");
    expect(currentId(ws.root)).toBe(1);
    expect(await lockHeld(stateDir(ws.root))).toBe(false); // released
  });

  it("a SIGKILLed holder's lock is free at once (the kernel releases it); the old lock file blocks nobody", async () => {
    const ws = workspace();
    mkdirSync(stateDir(ws.root), { recursive: true });
    for (let i = 0; i < 5; i++) {
      const child = worker(["hold", stateDir(ws.root)]);
      await new Promise<void>((resolve) => child.stdout!.on("data", (d: Buffer) => String(d).includes("held") && resolve()));
      expect(await lockHeld(stateDir(ws.root))).toBe(true);
      await expect(acquireLock(stateDir(ws.root), 0, () => {})).rejects.toThrow(LockTimeout);
      child.kill("SIGKILL");
      await new Promise((r) => child.on("exit", r));
      const t0 = Date.now();
      const release = await acquireLock(stateDir(ws.root), 5000, () => {});
      expect(Date.now() - t0).toBeLessThan(1000);
      await release();
    }
    // What the earlier file lock left after a crash (a dead pid, or nothing) means nothing now.
    writeFileSync(join(stateDir(ws.root), "lock"), "");
    const env = testEnv(ws);
    const r = await apply(env, inputs(ws));
    expect(r.generation).toBe(1);
    expect(env.lines.some((l) => l.startsWith("waiting for lock"))).toBe(false);
  });

  it("never two holders: 1,000 acquisitions by 4 processes contending with 1 ms polls", async () => {
    const dir = mkdtempSync(join(tmpdir(), "archy-lock-"));
    try {
      const marker = join(dir, "held");
      const kids = Array.from({ length: 4 }, () => worker(["loop", dir, "250", marker]));
      const codes = await Promise.all(
        kids.map((k) => {
          let err = "";
          k.stderr!.on("data", (d: Buffer) => (err += String(d)));
          return new Promise<string>((resolve) => k.on("exit", (code) => resolve(`${code} ${err}`.trim())));
        }),
      );
      expect(codes).toEqual(["0", "0", "0", "0"]);
      expect(existsSync(marker)).toBe(false);
      expect(await lockHeld(dir)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("never two holders in one process either: 1,000 rounds of three contenders, exactly one wins each", async () => {
    const dir = mkdtempSync(join(tmpdir(), "archy-lock-"));
    try {
      for (let round = 0; round < 1000; round++) {
        const got = await Promise.allSettled([0, 1, 2].map(() => acquireLock(dir, 0, () => {})));
        const won = got.filter((g): g is PromiseFulfilledResult<() => Promise<void>> => g.status === "fulfilled");
        expect(won.length, `round ${round}`).toBe(1);
        for (const g of got) if (g.status === "rejected") expect(g.reason).toBeInstanceOf(LockTimeout);
        await won[0]!.value();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

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
