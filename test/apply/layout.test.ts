// The activation layout: what the quadlet generator and PID 1 read at boot (the
// unit tree, configs, the drop-in, archy-quadlet's own units) is a real tree on
// the root file system, etc/archy-quadlet/active/<n>, switched by one rename of
// etc/archy-quadlet/active/current. Generations and OTA state stay in
// /var/lib/archy-quadlet, which a node may mount separately (after the generator ran).
import { afterEach, describe, expect, it } from "vitest";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apply, rollback } from "../../src/apply/apply.js";
import { currentId, readGeneration, readMeta, STATE_REL, treeHash } from "../../src/apply/state.js";
import { activeView, cleanup, currentLink, edit, inputs, show, snapshot, testEnv, viewHash, workspace } from "./helpers.js";
import { ACTIVE, activeLink, bootPaths, linksIntoVar, toLegacyLayout } from "./layout.js";
import { OTA_VERIFY_AFTER, systemUnits } from "../../src/lower/system-units.js";

afterEach(cleanup);

describe("activation layout", () => {
  it("the active tree is real files under etc/archy-quadlet/active/<n>; no boot path resolves into /var", async () => {
    const ws = workspace();
    const r = await apply(testEnv(ws), inputs(ws));
    expect(r.generation).toBe(1);
    expect(activeLink(ws.root)).toBe("1");
    expect(currentLink(ws.root)).toBe("generations/1");
    expect(readdirSync(join(ws.root, ACTIVE)).sort()).toEqual(["1", "current"]);
    expect(linksIntoVar(ws.root)).toEqual([]);
    expect(bootPaths(ws.root).length).toBeGreaterThan(8);
    // The copy is exactly the generation, modes included, and made of real files.
    const copy = join(ws.root, ACTIVE, "1");
    for (const [p, f] of readGeneration(ws.root, 1)) {
      const st = lstatSync(join(copy, p));
      expect(st.isFile(), p).toBe(true);
      expect(st.mode & 0o7777, p).toBe(f.mode);
      expect(readFileSync(join(copy, p)).equals(f.content), p).toBe(true);
    }
    // Boot with /var/lib/archy-quadlet not mounted yet: everything a boot reads is still there.
    const want = viewHash(ws.root);
    expect(want).toBe(readMeta(ws.root, 1)!.treeHash);
    renameSync(join(ws.root, STATE_REL), join(ws.dir, "state-elsewhere"));
    mkdirSync(join(ws.root, STATE_REL)); // the empty mount point
    expect(viewHash(ws.root)).toBe(want);
    expect(readFileSync(join(ws.root, "etc/systemd/system/multi-user.target.wants/archy-quadlet-podman-heal.service"), "utf8")).toContain("podman heal");
  });

  it("the next apply and a rollback switch the copy under /etc and leave only the current one", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    const h1 = viewHash(ws.root);
    edit(ws, "indexer.yaml", (s) => s.replace('version: "1.0"', 'version: "1.1"'));
    const env2 = testEnv(ws);
    const r2 = await apply(env2, inputs(ws));
    expect(r2.generation).toBe(2);
    expect(readdirSync(join(ws.root, ACTIVE)).sort()).toEqual(["2", "current"]);
    expect(viewHash(ws.root)).toBe(readMeta(ws.root, 2)!.treeHash);
    expect(show(env2.adapter.calls)).toContain("systemctl restart indexer.service");

    const env3 = testEnv(ws);
    const rb = await rollback(env3, 1);
    expect(rb.generation).toBe(1);
    expect(activeLink(ws.root)).toBe("1");
    expect(currentLink(ws.root)).toBe("generations/1");
    expect(readdirSync(join(ws.root, ACTIVE)).sort()).toEqual(["1", "current"]);
    expect(viewHash(ws.root)).toBe(h1);
    expect(linksIntoVar(ws.root)).toEqual([]);
    expect(show(env3.adapter.calls)).toContain("systemctl restart indexer.service");
  });

  it("a hand edit under /etc/archy is drift: apply restores it and restarts the consumer", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    const conf = join(ws.root, "etc/archy/btc/bitcoin.conf");
    const good = readFileSync(conf, "utf8");
    writeFileSync(conf, `${good}rpcauth=intruder:00$00\n`);
    // The generation in /var is untouched: the edit landed in the copy the node runs.
    expect(readGeneration(ws.root, 1).get("etc/archy/btc/bitcoin.conf")!.content.toString()).toBe(good);
    const env = testEnv(ws);
    const r = await apply(env, inputs(ws));
    expect(r.noop).toBe(false);
    expect(show(env.adapter.calls)).toContain("systemctl restart btc.service");
    expect(readFileSync(conf, "utf8")).toBe(good);
  });

  it("a node on the earlier layout (links into /var/lib/archy-quadlet/current) is migrated by the next apply, the view unchanged throughout", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    const h = viewHash(ws.root);
    toLegacyLayout(ws.root);
    expect(viewHash(ws.root)).toBe(h);
    expect(linksIntoVar(ws.root).length).toBeGreaterThan(0);
    expect(currentId(ws.root)).toBe(1);
    // A dry run reports the links it would change; nothing is written.
    const before = snapshot(ws.root);
    const dry = await apply(testEnv(ws), inputs(ws), { dryRun: true });
    expect(dry.noop).toBe(false);
    expect(snapshot(ws.root)).toEqual(before);

    const env = testEnv(ws);
    const r = await apply(env, inputs(ws));
    expect(r.failures).toEqual([]);
    expect(viewHash(ws.root)).toBe(h);
    expect(linksIntoVar(ws.root)).toEqual([]);
    expect(activeLink(ws.root)).toBe(String(currentId(ws.root)));
    expect(readdirSync(join(ws.root, ACTIVE)).sort()).toEqual([String(currentId(ws.root)), "current"]);
    // Same tree: nothing restarts.
    expect(show(env.adapter.calls).filter((c) => /restart|stop|start /.test(c))).toEqual([]);
    // And then it is a no-op.
    const again = testEnv(ws);
    expect((await apply(again, inputs(ws))).noop).toBe(true);
    expect(again.adapter.calls).toEqual([]);
  });

  it("debris under etc/archy-quadlet/active (a copy never switched to, a temp link) is collected; the current copy never is", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    const dir = join(ws.root, ACTIVE);
    mkdirSync(join(dir, "7"));
    writeFileSync(join(dir, "7", "stale"), "x");
    mkdirSync(join(dir, ".tmp-8-123"));
    symlinkSync("1", join(dir, "current.tmp-999"));
    edit(ws, "indexer.yaml", (s) => s.replace('version: "1.0"', 'version: "1.1"'));
    await apply(testEnv(ws), inputs(ws));
    expect(readdirSync(dir).sort()).toEqual(["2", "current"]);
    expect(existsSync(join(dir, "2", "etc/containers/systemd/archy/indexer.container"))).toBe(true);
    expect(treeHash(activeView(ws.root))).toBe(readMeta(ws.root, 2)!.treeHash);
  });

  it("a symlink planted at etc/archy-quadlet/active is refused before anything is switched", async () => {
    const ws = workspace();
    mkdirSync(join(ws.root, "etc/archy-quadlet"), { recursive: true });
    mkdirSync(join(ws.dir, "elsewhere"));
    symlinkSync(join(ws.dir, "elsewhere"), join(ws.root, ACTIVE));
    const env = testEnv(ws);
    await expect(apply(env, inputs(ws))).rejects.toThrow(/symlink/);
    expect(readdirSync(join(ws.dir, "elsewhere"))).toEqual([]);
    expect(currentLink(ws.root)).toBeUndefined();
    expect(readlinkSync(join(ws.root, ACTIVE))).toBe(join(ws.dir, "elsewhere"));
    expect(env.adapter.calls).toEqual([]);
  });
});

describe("archy-quadlet-ota-verify.service ordering", () => {
  it("is ordered after the network and the web stack only, never after an app service", () => {
    const units = systemUnits({ containers: [{ name: "bitcoin-knots" }, { name: "archy-bitcoin-ui" }] } as never);
    const ov = units.find((u) => u.path.endsWith("/archy-quadlet-ota-verify.service"))!;
    const text = String(ov.content);
    const after = [...text.matchAll(/^After=(.+)$/gm)].map((m) => m[1]);
    expect(after).toEqual([...OTA_VERIFY_AFTER]);
    expect(after).not.toContain("bitcoin-knots.service");
    // The heal hook still runs before every archy service.
    const heal = String(units.find((u) => u.path.endsWith("/archy-quadlet-podman-heal.service"))!.content);
    expect(heal).toMatch(/^Before=bitcoin-knots\.service$/m);
    expect(heal).toMatch(/^Before=archy-bitcoin-ui\.service$/m);
  });
});
