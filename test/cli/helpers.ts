// Shared setup for the operator/reviewer command tests: the fixture catalog,
// golden files (UPDATE_GOLDEN=1 rewrites them), output capture, and a fake node
// (a real generation on disk, systemd and podman answered by RecordingAdapter rules).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { expect, vi } from "vitest";
import { compile } from "../../src/plan/inputs.js";
import { ReviewSecrets } from "../../src/configs/secrets.js";
import { ensureStableLinks, statePaths, switchCurrent, writeGeneration, ensureStateDir, treeHash, toTree, type GenMeta } from "../../src/apply/state.js";
import { RecordingAdapter, type RecordedCall, type RunResult } from "../../src/apply/adapter.js";
import { Failure } from "../../src/outcome.js";
import { EXIT_CODES } from "../../src/cli/main.js";
import { REPO } from "../helpers/quadlet.js";
import { golden as sharedGolden } from "../helpers/cli.js";

export { REPO };
export const CATALOG = join(import.meta.dirname, "fixtures/catalog");
export const GOLDEN = join(import.meta.dirname, "golden");

/** Compare with test/cli/golden/<name> (see golden() in test/helpers/cli.ts). */
export function golden(name: string, actual: string): void {
  sharedGolden(join(GOLDEN, name), actual);
}

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command function with stdout/stderr captured, mapping a Failure to its code like main() does. */
export async function capture(fn: () => unknown): Promise<Captured> {
  let stdout = "";
  let stderr = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  try {
    await fn();
    return { code: 0, stdout, stderr };
  } catch (x) {
    if (x instanceof Failure) {
      if (x.message) stderr += `${x.message}\n`;
      return { code: EXIT_CODES[x.kind], stdout, stderr };
    }
    throw x;
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

// ---- a fake node ---------------------------------------------------------

export const FIXED_TIME = "2026-11-20T08:00:00.000Z";

/** A root holding generations 1 and 2 of the fixture selection (2 current), with the stable links. */
export function makeNode(state: GenMeta["state"] = "good"): { root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), "archy-ux-node-"));
  const r = compile({ manifests: join(CATALOG, "manifests"), select: join(CATALOG, "selection.yaml"), secrets: new ReviewSecrets() });
  if (r.diagnostics.length) throw new Error(JSON.stringify(r.diagnostics));
  ensureStateDir(root);
  const older = r.files.filter((f) => !f.path.includes("/dashboard") && !f.path.includes("archy-dashboard"));
  writeGeneration(root, 1, older, { id: 1, time: "2026-11-19T08:00:00.000Z", manifestHash: "0f1e2d3c4b5a6978", treeHash: treeHash(toTree(older)), state: "good" });
  writeGeneration(root, 2, r.files, { id: 2, time: FIXED_TIME, manifestHash: "a1b2c3d4e5f60718", treeHash: treeHash(toTree(r.files)), state, from: 1 });
  switchCurrent(root, 2);
  ensureStableLinks(root);
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export function armOta(root: string, marker: Record<string, unknown>): void {
  const dir = statePaths(root).ota;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "pending.json"), JSON.stringify(marker, null, 2) + "\n");
}

export interface Unit {
  load?: string;
  active?: string;
  sub?: string;
  restarts?: number;
  /** container state; "missing" = no such container */
  container?: string;
  exitCode?: number;
  health?: string;
}

export const FIXTURE_CONTAINERS = ["archy-dashboard", "btc", "indexer", "wallet", "wallet-db"] as const;
const WITH_HEALTH = new Set(["btc", "indexer", "wallet-db"]);

/** RecordingAdapter rules answering `systemctl show` and `podman container inspect` from a table. */
export function nodeAdapter(units: Partial<Record<string, Unit>>): RecordingAdapter {
  const get = (name: string): Required<Unit> => ({
    load: "loaded",
    active: "active",
    sub: "running",
    restarts: 0,
    container: "running",
    exitCode: 0,
    health: WITH_HEALTH.has(name) ? "healthy" : "",
    ...units[name],
  });
  const rule = (c: RecordedCall): RunResult | undefined => {
    if (c.cmd === "systemctl" && c.args[0] === "show") {
      const blocks = c.args
        .filter((a) => a.endsWith(".service"))
        .map((svc) => {
          const u = get(svc.replace(/\.service$/, ""));
          return `Id=${svc}\nLoadState=${u.load}\nActiveState=${u.active}\nSubState=${u.sub}\nNRestarts=${u.restarts}`;
        });
      return { code: 0, stdout: blocks.join("\n\n") + "\n", stderr: "" };
    }
    if (c.cmd === "podman" && c.args[0] === "container" && c.args[1] === "inspect") {
      const names = c.args.slice(4);
      const found = names.map((n) => [n, get(n)] as const).filter(([, u]) => u.container !== "missing");
      const missing = names.filter((n) => get(n).container === "missing");
      const json = found.map(([n, u]) => ({
        Id: `${n}-id`,
        Name: n,
        State: { Status: u.container, Running: u.container === "running", ExitCode: u.exitCode, StartedAt: "2026-11-20T08:01:00.000000000Z", ...(u.health ? { Health: { Status: u.health, FailingStreak: u.health === "unhealthy" ? 3 : 0 } } : {}) },
        RestartCount: 0,
      }));
      return { code: missing.length ? 125 : 0, stdout: JSON.stringify(json, null, 4), stderr: missing.map((n) => `Error: no such container ${n}`).join("\n") };
    }
    return undefined;
  };
  return new RecordingAdapter([rule]);
}
