import { afterEach, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { applyFixture, makeEnv } from "./helpers.js";
import { heal, classify, SIGNATURES } from "../../src/hooks/heal.js";
import type { RecordedCall, RunResult } from "../../src/apply/adapter.js";

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

/** podman info fails with `message` until a call matching `fixedBy` has run. */
function brokenPodman(message: string, fixedBy: (c: RecordedCall) => boolean, remedyFails = false) {
  let fixed = false;
  return (c: RecordedCall): RunResult | undefined => {
    if (c.cmd === "podman" && c.args[0] === "info") return fixed ? { code: 0, stdout: "sqlite\n", stderr: "" } : { code: 125, stdout: "", stderr: `Error: ${message}` };
    if (fixedBy(c)) {
      if (remedyFails) return { code: 125, stdout: "", stderr: "Error: renumber failed: lock in use" };
      fixed = true;
    }
    return undefined;
  };
}

const isRenumber = (c: RecordedCall) => c.cmd === "podman" && c.args.join(" ") === "system renumber";

async function setup(rule: (c: RecordedCall) => RunResult | undefined, withGeneration = false) {
  const t = makeEnv([rule]);
  cleanups.push(t.cleanup);
  if (withGeneration) await applyFixture(t.env, "a");
  t.adapter.calls.length = 0;
  const h = { root: t.root, adapter: t.adapter, log: (l: string) => t.lines.push(l), uid: 0, now: () => new Date("2026-11-27T10:00:00Z") };
  return { ...t, h };
}

describe("podman heal", () => {
  it("does nothing when podman is healthy", async () => {
    const t = await setup(() => ({ code: 0, stdout: "sqlite\n", stderr: "" }));
    const r = await heal(t.h);
    expect(r.healed).toBe(true);
    expect(r.actions).toEqual([]);
    expect(t.adapter.calls.map((c) => c.args[0])).toEqual(["info"]);
  });

  it("boot ID mismatch → clears the runtime dirs podman names (only under /run), nothing else", async () => {
    let cleared = false;
    const msg = 'current system boot ID differs from cached boot ID; an unhandled reboot has occurred. Please delete directories "/run/containers/storage" and "/run/libpod" and re-run Podman';
    const t = await setup((c) => (c.args[0] === "info" ? (cleared ? { code: 0, stdout: "sqlite", stderr: "" } : { code: 125, stdout: "", stderr: `Error: ${msg}` }) : undefined));
    for (const d of ["run/containers/storage/overlay", "run/libpod", "var/lib/containers/storage"]) mkdirSync(join(t.root, d), { recursive: true });
    writeFileSync(join(t.root, "var/lib/containers/storage/db.sql"), "keep");
    const orig = t.adapter.run.bind(t.adapter);
    t.adapter.run = async (cmd, args, o) => {
      if (args[0] === "info" && !existsSync(join(t.root, "run/libpod"))) cleared = true;
      return orig(cmd, args, o);
    };
    const r = await heal(t.h);
    expect(r).toMatchObject({ signature: "boot-id-mismatch", remedy: "clear-runtime-dirs", healed: true });
    expect(r.actions).toEqual(["remove runtime dir /run/containers/storage", "remove runtime dir /run/libpod"]);
    expect(existsSync(join(t.root, "run/libpod"))).toBe(false);
    expect(readFileSync(join(t.root, "var/lib/containers/storage/db.sql"), "utf8")).toBe("keep");
    expect(t.adapter.calls.map((c) => c.args.join(" "))).toEqual(["info --format {{.Host.DatabaseBackend}}", "info --format {{.Host.DatabaseBackend}}"]);
  });

  it.each([
    ["allocation failed; exceeded num_locks (2048)", "lock-exhausted"],
    ["error freeing lock for container 3f2a: no such file or directory", "lock-free-failed"],
  ])("%s → podman system renumber only", async (msg, sig) => {
    const t = await setup(brokenPodman(msg, isRenumber));
    const r = await heal(t.h);
    expect(r).toMatchObject({ signature: sig, remedy: "renumber", healed: true });
    expect(t.adapter.calls.map((c) => `${c.cmd} ${c.args.join(" ")}`)).toEqual([
      "podman info --format {{.Host.DatabaseBackend}}",
      "podman system renumber",
      "podman info --format {{.Host.DatabaseBackend}}",
    ]);
  });

  it.each([
    ["database disk image is malformed", "sqlite-corrupt"],
    ["invalid page type: 0: 4", "bolt-corrupt"],
    ['database static dir "/var/lib/containers/storage/libpod" does not match our static dir "/x": database configuration mismatch', "db-config-mismatch"],
  ])("%s → database moved aside (never deleted), renumber, archy services restarted", async (msg, sig) => {
    const t = await setup(brokenPodman(msg, isRenumber), true);
    const storage = join(t.root, "var/lib/containers/storage");
    mkdirSync(join(storage, "libpod"), { recursive: true });
    writeFileSync(join(storage, "db.sql"), "old db");
    writeFileSync(join(storage, "db.sql-wal"), "wal");
    const r = await heal(t.h);
    expect(r).toMatchObject({ signature: sig, remedy: "reset-database", healed: true });
    expect(readdirSync(storage).sort()).toEqual(["db.sql-wal.broken-20261127T100000", "db.sql.broken-20261127T100000", "libpod"]);
    expect(readFileSync(join(storage, "db.sql.broken-20261127T100000"), "utf8")).toBe("old db");
    expect(t.adapter.calls.map((c) => `${c.cmd} ${c.args.join(" ")}`)).toEqual([
      "podman info --format {{.Host.DatabaseBackend}}",
      "systemctl stop web.service",
      "systemctl stop db.service",
      "podman system renumber",
      "systemctl start db.service",
      "systemctl start web.service",
      "podman info --format {{.Host.DatabaseBackend}}",
    ]);
    expect(t.adapter.calls.some((c) => c.args.includes("reset"))).toBe(false);
  });

  it("a lost database (images stored, no db file) → renumber and restart the archy services, data untouched", async () => {
    const t = await setup(() => ({ code: 0, stdout: "sqlite\n", stderr: "" }), true);
    const storage = join(t.root, "var/lib/containers/storage");
    mkdirSync(join(storage, "overlay-images", "65e0e0290d26"), { recursive: true });
    const data = join(t.root, "var/lib/archy/apps/db/data");
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, "chainstate"), "precious");
    const r = await heal(t.h);
    expect(r).toMatchObject({ signature: "database-lost", remedy: "rebuild-lost-database", healed: true });
    expect(t.adapter.calls.map((c) => `${c.cmd} ${c.args.join(" ")}`)).toEqual([
      "podman info --format {{.Host.DatabaseBackend}}",
      "systemctl stop web.service",
      "systemctl stop db.service",
      "podman system renumber",
      "systemctl start db.service",
      "systemctl start web.service",
      "podman info --format {{.Host.DatabaseBackend}}",
    ]);
    expect(readFileSync(join(data, "chainstate"), "utf8")).toBe("precious");
  });

  it("an unknown failure takes no action and reports the captured error", async () => {
    const t = await setup(() => ({ code: 125, stdout: "", stderr: "Error: something nobody has seen before" }));
    const r = await heal(t.h);
    expect(r.healed).toBe(false);
    expect(r.actions).toEqual([]);
    expect(r.before).toMatch(/nobody has seen before/);
    expect(t.adapter.calls).toHaveLength(1);
  });

  it("a failing remedy is reported and no further remedy is tried", async () => {
    const t = await setup(brokenPodman("database disk image is malformed", isRenumber, true), true);
    const r = await heal(t.h);
    expect(r.healed).toBe(false);
    expect(t.adapter.calls.map((c) => `${c.cmd} ${c.args.join(" ")}`)).toEqual([
      "podman info --format {{.Host.DatabaseBackend}}",
      "systemctl stop web.service",
      "systemctl stop db.service",
      "podman system renumber",
    ]);
    expect(t.lines.join("\n")).toMatch(/renumber failed: lock in use; no further remedies/);
  });

  it("migrates a BoltDB database only on Podman 5.8 or newer", async () => {
    const bolt = () => ({ code: 0, stdout: "boltdb\n", stderr: "" });
    const old = await setup(bolt);
    expect((await heal({ ...old.h, podmanVersion: [5, 4] })).actions).toEqual([]);
    const t = await setup(bolt);
    const r = await heal({ ...t.h, podmanVersion: [5, 8] });
    expect(r).toMatchObject({ remedy: "migrate-database" });
    expect(t.adapter.calls.map((c) => c.args.join(" "))).toContain("system migrate --migrate-db");
  });

  it("never maps any signature to a reset", () => {
    for (const s of SIGNATURES) expect(s.remedy).not.toMatch(/reset$/);
    expect(classify("Error: podman system reset required")).toBeUndefined();
  });
});
