// Faults around the target root and the state dir: missing root, a file where
// a directory must be, a write that fails mid-generation (file-size limit: a
// full disk as seen by the writer), a read-only state dir (when mount
// namespaces are available). Each: a clear error, the old generation untouched.
import { afterEach, describe, expect, it } from "vitest";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apply } from "../../src/apply/apply.js";
import { currentId, readMeta } from "../../src/apply/state.js";
import { CLI, REPO, STATE, cleanup, edit, entries, inputs, logged, quadletBin, runCli, snapshot, testEnv, viewHash, workspace, type CliResult, type Workspace } from "./helpers.js";

afterEach(cleanup);

const applyArgs = (ws: Workspace) => ["apply", "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets];

/** Run the CLI through `sh -c <script>`; the script ends by exec'ing "$0" "$@" (node and its arguments). */
function runWrapped(script: string, args: string[], log: string): Promise<CliResult> {
  const env = { ...process.env, QUADLET_BIN: quadletBin(), ARCHY_QUADLET_ADAPTER: `record:${log}` };
  return new Promise((resolve) => {
    const child = execFile("sh", ["-c", script, process.execPath, ...CLI.argv, ...args], { cwd: REPO, env, timeout: 60_000 }, (_e, stdout, stderr) =>
      resolve({ code: child.exitCode, signal: child.signalCode, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

/** gen 1 applied; returns what must stay untouched. */
async function withGeneration1(ws: Workspace) {
  await apply(testEnv(ws), inputs(ws));
  return { gen1: snapshot(join(ws.root, STATE, "generations/1")), view: viewHash(ws.root) };
}

function expectUntouched(ws: Workspace, before: Awaited<ReturnType<typeof withGeneration1>>): void {
  expect(currentId(ws.root)).toBe(1);
  expect(snapshot(join(ws.root, STATE, "generations/1"))).toEqual(before.gen1);
  expect(viewHash(ws.root)).toBe(before.view);
  expect(readdirSync(join(ws.root, STATE, "generations"))).toEqual(["1"]);
  expect(readdirSync(join(ws.root, STATE)).filter((n) => n.startsWith("lock") || n.startsWith("current."))).toEqual([]);
}

const namespaces = spawnSync("unshare", ["-m", "true"]).status === 0;

describe("faults", () => {
  it("target root missing (or not a directory): clear error, exit 2", async () => {
    const ws = workspace();
    const missing = join(ws.dir, "nope");
    const r = await runCli(["apply", "--root", missing, "--manifests", ws.manifests, "--secrets", ws.secrets], { log: ws.log });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: target root ${missing} does not exist or is not a directory\n`);
    expect(existsSync(missing)).toBe(false);
    const file = join(ws.dir, "file");
    writeFileSync(file, "");
    for (const cmd of [["apply", "--manifests", ws.manifests, "--secrets", ws.secrets], ["rollback"]]) {
      const f = await runCli([...cmd, "--root", file], { log: ws.log });
      expect(f.code).toBe(2);
      expect(f.stderr).toBe(`error: target root ${file} does not exist or is not a directory\n`);
    }
    expect(logged(ws.log)).toEqual([]);
  });

  it("the state dir is a regular file: clear error, exit 3, nothing else created", async () => {
    const ws = workspace();
    mkdirSync(join(ws.root, "var/lib"), { recursive: true });
    writeFileSync(join(ws.root, STATE), "not a directory\n");
    const before = snapshot(ws.root);
    const r = await runCli(applyArgs(ws), { log: ws.log });
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`error: cannot use state directory ${join(ws.root, STATE)}: ${join(ws.root, STATE)} exists and is not a directory\n`);
    expect(snapshot(ws.root)).toEqual(before);
    expect(logged(ws.log)).toEqual([]);
  });

  it("a write failing while the new generation is built (file-size limit, like a full disk): old generation untouched, no debris", async () => {
    const ws = workspace();
    const before = await withGeneration1(ws);
    // 64 KiB in the build context; the limit allows 8 KiB per file (16 × 512-byte blocks).
    writeFileSync(join(ws.manifests, "build/ui/big.bin"), Buffer.alloc(64 * 1024, 7));
    const r = await runWrapped('trap "" XFSZ; ulimit -f 16; exec "$0" "$@"', applyArgs(ws), ws.log);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^error: EFBIG: file too large, write — nothing switched unless a "switched to generation" line was printed\n$/);
    expect(r.stdout).not.toContain("switched to generation");
    expect(logged(ws.log)).toEqual([]);
    expectUntouched(ws, before);
    // Once there is room again, the same apply goes through.
    const ok = await runCli(applyArgs(ws), { log: ws.log });
    expect(ok.code, ok.stderr).toBe(0);
    expect(currentId(ws.root)).toBe(2);
    expect(readMeta(ws.root, 2)!.state).toBe("good");
  });

  it("a regular file where a link's directory must be: error before the switch, no generation left behind", async () => {
    const ws = workspace();
    const before = await withGeneration1(ws);
    const wants = join(ws.root, "etc/systemd/system/timers.target.wants");
    rmSync(wants, { recursive: true });
    writeFileSync(wants, "");
    edit(ws, "web.yaml", (s) => s.replace("nginx:1.27", "nginx:1.28"));
    const r = await runCli(applyArgs(ws), { log: ws.log });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("error: ENOTDIR: not a directory, symlink '../archy-quadlet-reconcile.timer' -> ");
    expect(r.stderr).toContain("timers.target.wants/archy-quadlet-reconcile.timer");
    expect(r.stdout).not.toContain("switched to generation");
    expect(logged(ws.log)).toEqual([]);
    expectUntouched(ws, { ...before, gen1: before.gen1 });
    rmSync(wants);
    expect((await runCli(applyArgs(ws), { log: ws.log })).code).toBe(0);
    expect(currentId(ws.root)).toBe(2);
  });

  it("a read-only state dir (read-only bind mount): clear error, old generation untouched", async () => {
    expect(namespaces, "unshare -m is needed for the read-only bind mount").toBe(true);
    const ws = workspace();
    const before = await withGeneration1(ws);
    const state = entries(join(ws.root, STATE));
    edit(ws, "web.yaml", (s) => s.replace("nginx:1.27", "nginx:1.28"));
    const dir = join(ws.root, STATE);
    const r = await runWrapped(`exec unshare -m sh -c 'mount --bind -o ro "$1" "$1" && shift && exec "$0" "$@"' "$0" "${dir}" "$@"`, applyArgs(ws), ws.log);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^error: EROFS: read-only file system, .*\n$/);
    expect(logged(ws.log)).toEqual([]);
    expectUntouched(ws, before);
    expect(entries(join(ws.root, STATE))).toEqual(state);
  });
});
