// Failures after compile: quadlet rejecting a generation in the preflight
// (nothing switched), and systemctl failing for one service (reported by name,
// dependents skipped, independent services handled, exit 3, generation failed).
import { afterEach, describe, expect, it, vi } from "vitest";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { RecordingAdapter, type SystemAdapter } from "../../src/apply/adapter.js";
import { apply } from "../../src/apply/apply.js";
import { currentId, readMeta } from "../../src/apply/state.js";
import { main } from "../../src/cli/main.js";
import { cleanup, currentLink, edit, genIds, inputs, logged, quadletBin, runCli, show, entries, STATE, testEnv, workspace, writeExecutable, type Rule } from "./helpers.js";

// The CLI's adapter, swapped per test (the CLI path has no other way to inject a failing systemctl).
let cliAdapter: SystemAdapter | undefined;
vi.mock(import("../../src/apply/adapter.js"), async (orig) => {
  const real = await orig();
  return { ...real, defaultAdapter: () => cliAdapter ?? real.defaultAdapter() };
});

afterEach(() => {
  cliAdapter = undefined;
  vi.restoreAllMocks();
  cleanup();
});

async function runMain(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((s) => ((stderr += String(s)), true));
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

describe("quadlet rejects the new generation", () => {
  it("real quadlet 5.4 rejecting a key: nothing switched, no generation left, quadlet's text shown, non-zero exit", async () => {
    const ws = workspace();
    expect((await runCli(["apply", "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets], { log: ws.log })).code).toBe(0);
    const before = entries(join(ws.root, STATE));
    // Targeting Podman 5.5 makes the compiler emit Memory= for the UI; the real 5.4 quadlet does not know it.
    edit(ws, "web.yaml", (s) => s.replace("nginx:1.27", "nginx:1.28"));
    const r = await runCli(["apply", "--podman-version", "5.5", "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets], { log: `${ws.log}.2` });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("error: quadlet rejected the new generation (exit 1); nothing was switched");
    expect(r.stderr).toContain(`converting "archy-ui.container": unsupported key 'Memory' in group 'Container'`);
    expect(r.stderr).toContain("quadlet produced no service for: archy-ui.service");
    expect(r.stdout).not.toContain("switched to generation");
    expect(logged(`${ws.log}.2`)).toEqual([]);
    expect(currentLink(ws.root)).toBe("generations/1");
    expect(genIds(ws.root)).toEqual(["1"]);
    expect(entries(join(ws.root, STATE))).toEqual(before);
  });

  it("a failing quadlet binary given by --quadlet: its message is shown, nothing switched", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    edit(ws, "web.yaml", (s) => s.replace("nginx:1.27", "nginx:1.28"));
    // Named .../quadlet so the recording adapter runs it for real, like the real one.
    const fake = writeExecutable(join(ws.dir, "fake/quadlet"), '#!/bin/sh\necho "quadlet-generator[1]: converting \\"web.container\\": something quadlet hates" >&2\nexit 1\n');
    const before = entries(join(ws.root, STATE));
    const r = await runCli(["apply", "--quadlet", fake, "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets], { log: ws.log });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("quadlet rejected the new generation (exit 1); nothing was switched:\nquadlet-generator[1]: converting \"web.container\": something quadlet hates");
    expect(logged(ws.log)).toEqual([]);
    expect(currentId(ws.root)).toBe(1);
    expect(entries(join(ws.root, STATE))).toEqual(before);
    expect(readdirSync(join(ws.root, STATE, "generations"))).toEqual(["1"]);
  });

  it("quadlet exiting 0 but silently dropping a unit is a rejection too", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    edit(ws, "web.yaml", (s) => s.replace("nginx:1.27", "nginx:1.28"));
    const real = quadletBin();
    // Runs the real quadlet and drops web.service from its output.
    const fake = writeExecutable(join(ws.dir, "fake/quadlet"), `#!/bin/sh\n"${real}" "$@" | sed '/^---web.service---$/,/^---/d'\n`);
    const env = { ...testEnv(ws), quadlet: fake, adapter: new RecordingAdapter([], (c) => c.cmd === fake) };
    await expect(apply(env, inputs(ws))).rejects.toThrow("quadlet produced no service for: web.service");
    expect(env.adapter.calls).toEqual([]);
    expect(genIds(ws.root)).toEqual(["1"]);
  });
});

describe("a systemctl failure for one service", () => {
  const failRestart = (unit: string): Rule => (c) =>
    c.cmd === "systemctl" && c.args[0] === "restart" && c.args[1] === unit ? { code: 1, stdout: "", stderr: `Job for ${unit} failed because the control process exited with error code.\nSee "systemctl status ${unit}" for details.` } : undefined;

  function bumpAll(ws: ReturnType<typeof workspace>): void {
    for (const f of ["btc.yaml", "ui.yaml", "indexer.yaml", "web.yaml"]) edit(ws, f, (s) => s.replace('version: "1.0"', 'version: "1.1"'));
  }

  it("is reported by name; independent services are still handled, dependents skipped; the generation stays current, marked failed", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    bumpAll(ws);
    const env = testEnv(ws, [failRestart("btc.service")]);
    const r = await apply(env, inputs(ws));
    expect(show(env.adapter.calls)).toEqual([
      "systemctl daemon-reload",
      "systemctl restart btc.service",
      // archy-ui and indexer need btc: skipped, not attempted
      "systemctl restart web.service",
      "systemctl restart web-worker.service",
    ]);
    expect(r.failures.map((f) => f.unit)).toEqual(["btc.service", "archy-ui.service", "indexer.service"]);
    expect(r.failures[0]!.error).toContain("Job for btc.service failed");
    expect(r.failures[1]!.error).toBe("skipped: dependency btc.service failed");
    expect(env.lines).toContain("restart btc.service failed: Job for btc.service failed because the control process exited with error code.");
    expect(env.lines).toContain("skip archy-ui.service: dependency btc.service failed");
    expect(currentId(ws.root)).toBe(2);
    expect(readMeta(ws.root, 2)).toMatchObject({ state: "failed", note: "failed: btc.service, archy-ui.service, indexer.service" });
  });

  it("through the CLI: exit 3, the failed units named, `generations` shows the generation current and failed", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    bumpAll(ws);
    const rec = new RecordingAdapter([failRestart("indexer.service")], (c) => c.cmd === quadletBin());
    cliAdapter = rec;
    const r = await runMain(["apply", "--quadlet", quadletBin(), "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe("error: 1 unit failed: indexer.service (generation 2 stays current)\n");
    expect(r.stdout).toContain("restart indexer.service failed: Job for indexer.service failed");
    // indexer has no dependents: every other restart happened
    expect(show(rec.calls)).toEqual([
      "systemctl daemon-reload",
      "systemctl restart btc.service",
      "systemctl restart archy-ui.service",
      "systemctl restart indexer.service",
      "systemctl restart web.service",
      "systemctl restart web-worker.service",
    ]);

    const j = await runMain(["generations", "--json", "--root", ws.root]);
    expect(j.code).toBe(0);
    const gens = (JSON.parse(j.stdout) as { generations: { id: number; state: string; current: boolean; note?: string }[] }).generations;
    expect(gens.map((g) => [g.id, g.state, g.current])).toEqual([
      [1, "good", false],
      [2, "failed", true],
    ]);
    expect(gens[1]!.note).toBe("failed: indexer.service");
    const t = await runMain(["generations", "--root", ws.root]);
    expect(t.stdout.split("\n")[2]).toMatch(/^2\s+\*\s+failed\s+\S+Z\s+[0-9a-f]{16}\s+failed: indexer\.service$/);

    // --json on the failing apply: the failures are in the document too
    bumpIndexer(ws);
    const jr = await runMain(["apply", "--json", "--quadlet", quadletBin(), "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets]);
    expect(jr.code).toBe(3);
    expect(JSON.parse(jr.stdout).failures).toEqual([{ unit: "indexer.service", error: expect.stringContaining("Job for indexer.service failed") }]);
  });

  it("a failing daemon-reload stops before any restart", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    bumpAll(ws);
    const env = testEnv(ws, [(c) => (c.args[0] === "daemon-reload" ? { code: 1, stdout: "", stderr: "Failed to reload daemon: Access denied" } : undefined)]);
    const r = await apply(env, inputs(ws));
    expect(show(env.adapter.calls)).toEqual(["systemctl daemon-reload"]);
    expect(r.failures).toEqual([{ unit: "daemon-reload", error: "Failed to reload daemon: Access denied" }]);
    expect(readMeta(ws.root, 2)!.state).toBe("failed");
  });
});

function bumpIndexer(ws: ReturnType<typeof workspace>): void {
  edit(ws, "indexer.yaml", (s) => s.replace('version: "1.1"', 'version: "1.2"'));
}

