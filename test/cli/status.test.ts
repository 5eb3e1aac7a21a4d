import { afterEach, describe, expect, it } from "vitest";
import { statusCmd, parseSystemctlShow, parseInspect } from "../../src/cli/status.js";
import { armOta, capture, golden, makeNode, nodeAdapter, FIXTURE_CONTAINERS } from "./helpers.js";
import type { RunResult } from "../../src/apply/adapter.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function node(state?: "good" | "pending") {
  const n = makeNode(state);
  cleanups.push(n.cleanup);
  return n.root;
}

describe("status", () => {
  it("healthy node: every container up, exit 0, one systemctl and one podman call", async () => {
    const root = node();
    const adapter = nodeAdapter({ btc: { restarts: 1 } });
    const text = await capture(() => statusCmd({ root }, adapter));
    expect(text.code).toBe(0);
    golden("status-healthy.txt", text.stdout);
    // Then the image space of the kept generations and the disk guard's graph root (src/apply/images.ts, disk.ts).
    expect(adapter.calls.map((c) => `${c.cmd} ${c.args[0]}`)).toEqual(["systemctl show", "podman container", "podman images", "podman info"]);
    expect(adapter.calls[0]!.args.filter((a) => a.endsWith(".service"))).toEqual(FIXTURE_CONTAINERS.map((n) => `${n}.service`));
    expect(adapter.calls[1]!.args).toEqual(["container", "inspect", "--format", "json", ...FIXTURE_CONTAINERS]);

    const json = await capture(() => statusCmd({ root, json: true }, nodeAdapter({ btc: { restarts: 1 } })));
    expect(json.code).toBe(0);
    golden("status-healthy.json", json.stdout);
    const r = JSON.parse(json.stdout);
    expect(r.ok).toBe(true);
    expect(r.down).toEqual([]);
  });

  it("degraded node: one container exited, one unhealthy → exit 1 naming both", async () => {
    const root = node();
    const units = {
      wallet: { active: "activating", sub: "auto-restart", restarts: 7, container: "exited", exitCode: 1 },
      indexer: { health: "unhealthy", restarts: 2 },
    };
    const text = await capture(() => statusCmd({ root }, nodeAdapter(units)));
    expect(text.code).toBe(1);
    golden("status-degraded.txt", text.stdout);
    const json = await capture(() => statusCmd({ root, json: true }, nodeAdapter(units)));
    expect(json.code).toBe(1);
    golden("status-degraded.json", json.stdout);
    const r = JSON.parse(json.stdout);
    expect(r.ok).toBe(false);
    expect(r.down).toEqual(["indexer", "wallet"]);
    expect(r.apps.find((a: { id: string }) => a.id === "wallet").status).toBe("down");
    expect(r.apps.find((a: { id: string }) => a.id === "btc").status).toBe("ok");
  });

  it("a container systemd restarted away (no such container) is down; a starting health check is not", async () => {
    const root = node();
    const r = await capture(() => statusCmd({ root, json: true }, nodeAdapter({ "wallet-db": { container: "missing", active: "failed", sub: "failed" }, btc: { health: "starting" } })));
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.down).toEqual(["wallet-db"]);
    const btc = j.apps.find((a: { id: string }) => a.id === "btc").containers[0];
    expect(btc.status).toBe("starting");
    const db = j.apps.find((a: { id: string }) => a.id === "wallet").containers.find((c: { name: string }) => c.name === "wallet-db");
    expect(db.container.state).toBe("missing");
    expect(db.problems).toContain("no such container");
  });

  it("pending OTA marker: the generation is shown as awaiting verification", async () => {
    const root = node("pending");
    armOta(root, { release: "2026.11.2", fallback: 1, time: "2026-11-20T07:59:00.000Z", attempts: 0, rolledBack: false });
    const text = await capture(() => statusCmd({ root }, nodeAdapter({})));
    expect(text.code).toBe(0);
    golden("status-ota-pending.txt", text.stdout);
    const json = await capture(() => statusCmd({ root, json: true }, nodeAdapter({})));
    golden("status-ota-pending.json", json.stdout);
    const g = JSON.parse(json.stdout).generation;
    expect(g.state).toBe("pending");
    expect(g.ota).toMatchObject({ release: "2026.11.2", fallback: 1, rolledBack: false });
  });

  it("a failed verification that rolled back asks for attention", async () => {
    const root = node();
    armOta(root, { release: "2026.11.2", fallback: 1, time: "2026-11-20T07:59:00.000Z", attempts: 1, rolledBack: true, evidence: "https://127.0.0.1/ answered 502 (want 200)" });
    const text = await capture(() => statusCmd({ root }, nodeAdapter({})));
    expect(text.stdout).toContain("ota: release 2026.11.2 failed verification and was rolled back (https://127.0.0.1/ answered 502 (want 200)); needs attention");
  });

  it("no generation: says so, exit 1, runs nothing", async () => {
    const root = mkdtempSync(join(tmpdir(), "archy-ux-empty-"));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const adapter = nodeAdapter({});
    const r = await capture(() => statusCmd({ root }, adapter));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("no generation installed (run archy-quadlet apply)\n");
    expect(adapter.calls).toEqual([]);
    const j = await capture(() => statusCmd({ root, json: true }, adapter));
    expect(JSON.parse(j.stdout)).toEqual({ ok: false, generation: null, apps: [], down: [], lndBackup: null, images: null, disk: { required: 0, low: [] } });
  });

  it("systemd unreachable: every container is reported down with the reason", async () => {
    const root = node();
    const adapter = nodeAdapter({});
    const failing = { run: async (cmd: string, args: readonly string[]) => (cmd === "systemctl" ? { code: 1, stdout: "", stderr: "System has not been booted with systemd as init system (PID 1). Can't operate.\n" } : adapter.run(cmd, args)) };
    const r = await capture(() => statusCmd({ root, json: true }, failing));
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.down).toHaveLength(FIXTURE_CONTAINERS.length);
    expect(j.apps[0].containers[0].problems[0]).toMatch(/^systemctl show failed \(exit 1\): System has not been booted/);
  });
});

describe("status parsers", () => {
  it("systemctl show: blocks keyed by Id", () => {
    const m = parseSystemctlShow("Id=a.service\nLoadState=loaded\nActiveState=active\n\nId=b.service\nLoadState=not-found\nActiveState=inactive\n");
    expect(m.get("b.service")).toEqual({ Id: "b.service", LoadState: "not-found", ActiveState: "inactive" });
  });
  it("podman inspect: Podman 5 Health, older Healthcheck, docker-style /name; garbage → undefined", () => {
    const m = parseInspect(JSON.stringify([{ Name: "/a", State: { Status: "running", Healthcheck: { Status: "healthy" } } }, { Name: "b", State: { Status: "exited", ExitCode: 137 } }]))!;
    expect(m.get("a")).toMatchObject({ state: "running", health: "healthy" });
    expect(m.get("b")).toMatchObject({ state: "exited", exitCode: 137, health: null });
    expect(parseInspect("Error: boom")).toBeUndefined();
    expect(parseInspect("")!.size).toBe(0);
  });
});

describe("status: images and disk", () => {
  it("shows the space the kept generations' images hold (each image once) and warns about a file system below min_free_disk", async () => {
    const root = node();
    const images = [
      { Id: "aaa", Names: ["docker.io/example/bitcoind:28.0"], RepoDigests: [], Size: 300 * 1024 ** 2 },
      { Id: "bbb", Names: ["docker.io/example/lnd:0.18.0"], RepoDigests: [], Size: 200 * 1024 ** 2 },
      { Id: "ccc", Names: ["docker.io/library/postgres:16.4", "docker.io/example/electrumx:1.18.0"], RepoDigests: [], Size: 100 * 1024 ** 2 },
      { Id: "foreign", Names: ["docker.io/library/alpine:3"], RepoDigests: [], Size: 5 * 1024 ** 3 },
    ];
    const base = nodeAdapter({});
    const wrapped = {
      async run(cmd: string, args: readonly string[]): Promise<RunResult> {
        if (cmd === "podman" && args[0] === "images") return { code: 0, stdout: JSON.stringify(images), stderr: "" };
        if (cmd === "podman" && args[0] === "info") return { code: 0, stdout: JSON.stringify({ store: { graphRoot: "/srv/store" } }), stderr: "" };
        return base.run(cmd, args);
      },
    };
    const r = await capture(() => statusCmd({ root, json: true }, wrapped, () => 1024 ** 3));
    const j = JSON.parse(r.stdout) as { images: { bytes: number; images: number; missing: string[] }; disk: { required: number; low: { paths: { path: string; what: string }[]; free: number }[] } };
    expect(j.images.images).toBe(3);
    expect(j.images.bytes).toBe(600 * 1024 ** 2);
    expect(j.images.missing.length).toBeGreaterThan(0); // the dashboard's build tag is not among them
    expect(j.disk.required).toBe(2 * 1024 ** 3);
    expect(j.disk.low[0]!.paths[0]).toEqual({ path: "/srv/store", what: "podman graph root" });
    const text = await capture(() => statusCmd({ root }, wrapped, () => 1024 ** 3));
    expect(text.stdout).toContain("images: the kept generations' 3 images hold 600.0M");
    expect(text.stdout).toMatch(/^WARNING: \/srv\/store \(podman graph root\)[^\n]*: 1\.0G free, below min_free_disk 2\.0G: the next apply will refuse to fetch$/m);
    const roomy = await capture(() => statusCmd({ root }, wrapped, () => 10 * 1024 ** 3));
    expect(roomy.stdout).not.toContain("WARNING: /srv/store");
  });
});
