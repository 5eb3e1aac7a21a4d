// LND static channel backups (issue 16): the copy is atomic and verified, each
// change gives one more timestamped copy plus latest.backup, the last N are kept,
// channel.db is refused, status warns when lnd's file is newer; the compiler
// emits the .path/.service pair only with lnd, watching the selected network's file.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupScb, listCopies, scbStatus } from "../../src/backup/scb.js";
import { compile } from "../../src/plan/inputs.js";
import { ReviewSecrets } from "../../src/configs/secrets.js";
import { cleanup, cli, tempDir } from "../helpers/cli.js";
import { REPO } from "../helpers/quadlet.js";

let tmp = "";
beforeAll(() => {
  tmp = tempDir("archy-scb-");
});
afterAll(() => cleanup(tmp));
let k = 0;
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function lndDir(): { src: string; dest: string } {
  const d = join(tmp, `n${k++}`);
  mkdirSync(join(d, "lnd"), { recursive: true });
  return { src: join(d, "lnd/channel.backup"), dest: join(d, "backup") };
}

describe("backup lnd-scb", () => {
  it("copies each new content once, verified, with latest.backup; keeps the last N", () => {
    const { src, dest } = lndDir();
    const t0 = new Date("2026-11-30T10:00:00.000Z");
    writeFileSync(src, "scb-1");
    const a = backupScb({ source: src, dest, keep: 2, now: t0 });
    expect(a.status).toBe("copied");
    expect(a.sha256).toBe(sha(Buffer.from("scb-1")));
    expect(readFileSync(a.copy, "utf8")).toBe("scb-1");
    expect(readFileSync(join(dest, "latest.backup"), "utf8")).toBe("scb-1");
    expect(statSync(a.copy).mode & 0o777).toBe(0o600);
    expect(statSync(dest).mode & 0o777).toBe(0o700);
    // Unchanged content: nothing new.
    expect(backupScb({ source: src, dest, keep: 2, now: new Date(t0.getTime() + 1000) }).status).toBe("unchanged");
    writeFileSync(src, "scb-2");
    const b = backupScb({ source: src, dest, keep: 2, now: new Date(t0.getTime() + 2000) });
    expect(b.status).toBe("copied");
    expect(listCopies(dest)).toEqual(["channel-20261130T100000000Z.backup", "channel-20261130T100002000Z.backup"]);
    writeFileSync(src, "scb-3");
    const c = backupScb({ source: src, dest, keep: 2, now: new Date(t0.getTime() + 3000) });
    expect(c.pruned).toEqual(["channel-20261130T100000000Z.backup"]);
    expect(listCopies(dest).length).toBe(2);
    expect(readFileSync(join(dest, "latest.backup"), "utf8")).toBe("scb-3");
    // No temp files left behind.
    expect(readdirSync(dest).filter((n) => n.includes("archy-tmp"))).toEqual([]);
  });

  it("never copies channel.db", () => {
    const { src, dest } = lndDir();
    const db = src.replace("channel.backup", "channel.db");
    writeFileSync(db, "db");
    expect(() => backupScb({ source: db, dest, keep: 3 })).toThrow(/never channel\.db/);
  });

  it("the CLI: exit 0 and a verified copy; a missing source is stated plainly", async () => {
    const { src, dest } = lndDir();
    writeFileSync(src, "x");
    const r = await cli(["backup", "lnd-scb", "--source", src, "--dest", dest, "--keep", "5"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/sha256 [0-9a-f]{64} verified/);
    const m = await cli(["backup", "lnd-scb", "--source", join(tmp, "nope/channel.backup"), "--dest", dest]);
    expect(m.code).toBe(2);
    expect(m.stderr).toContain("does not exist (lnd writes it once its wallet exists)");
  });

  it("status: age of the newest copy, a warning (exit 1) when lnd's file is newer", async () => {
    const { src, dest } = lndDir();
    writeFileSync(src, "x");
    backupScb({ source: src, dest, keep: 5 });
    expect(scbStatus(src, dest).stale).toBe(false);
    const future = new Date(Date.now() + 60_000);
    utimesSync(src, future, future);
    expect(scbStatus(src, dest).stale).toBe(true);
    const r = await cli(["backup", "status", "--source", src, "--dest", dest]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("WARNING: lnd's channel.backup is newer than it");
  });
});

describe("compiled units", () => {
  function files(apps: string, settings = "") {
    const s = join(tmp, `sel-${k++}.yaml`);
    writeFileSync(s, `apps: [${apps}]\n${settings}`);
    const r = compile({ manifests: join(REPO, "manifests"), select: s, secrets: new ReviewSecrets() });
    expect(r.diagnostics).toEqual([]);
    return new Map(r.files.map((f) => [f.path, String(f.content)]));
  }

  it("with lnd: a .path unit on the selected network's channel.backup and a oneshot running backup lnd-scb", () => {
    const f = files("bitcoin-knots, lnd", "settings:\n  bitcoin_network: signet\n  lnd_backup: { dir: /mnt/usb/lnd, keep: 7 }\n");
    const path = f.get("etc/systemd/system/archy-quadlet-lnd-backup.path")!;
    expect(path).toContain("PathChanged=/var/lib/archy/apps/lnd/data/data/chain/bitcoin/signet/channel.backup");
    expect(path).toContain("Unit=archy-quadlet-lnd-backup.service");
    const svc = f.get("etc/systemd/system/archy-quadlet-lnd-backup.service")!;
    expect(svc).toContain("Type=oneshot");
    expect(svc).toContain("ExecStart=/usr/local/bin/archy-quadlet backup lnd-scb --source /var/lib/archy/apps/lnd/data/data/chain/bitcoin/signet/channel.backup --dest /mnt/usb/lnd --keep 7");
    expect(svc).not.toContain("channel.db");
  });

  it("systemd-analyze verify accepts the pair (the program path swapped for /bin/true, which exists here)", async () => {
    const { spawnSync } = await import("node:child_process");
    const f = files("bitcoin-knots, lnd");
    const dir = join(tmp, `units-${k++}`);
    mkdirSync(dir);
    for (const u of ["archy-quadlet-lnd-backup.path", "archy-quadlet-lnd-backup.service"]) {
      writeFileSync(join(dir, u), f.get(`etc/systemd/system/${u}`)!.replace("/usr/local/bin/archy-quadlet ", "/bin/true "));
    }
    const r = spawnSync("systemd-analyze", ["verify", "--man=no", join(dir, "archy-quadlet-lnd-backup.path"), join(dir, "archy-quadlet-lnd-backup.service")], { encoding: "utf8" });
    if (r.error) throw new Error(`systemd-analyze is needed (never skipped): ${r.error.message}`);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("without lnd: no backup units", () => {
    const f = files("bitcoin-knots, electrumx");
    expect([...f.keys()].some((p) => p.includes("lnd-backup"))).toBe(false);
  });
});

describe("status shows the channel backup", () => {
  it("age of the newest copy, and a warning when lnd's file is newer", async () => {
    const { makeNode, nodeAdapter, capture } = await import("../cli/helpers.js");
    const { statusCmd } = await import("../../src/cli/status.js");
    const { currentId, genDir } = await import("../../src/apply/state.js");
    const n = makeNode();
    try {
      const src = "/var/lib/archy/apps/lnd/data/data/chain/bitcoin/mainnet/channel.backup";
      const dest = "/srv/backup/lnd";
      const gen = join(genDir(n.root, currentId(n.root)!), "etc/systemd/system");
      mkdirSync(gen, { recursive: true });
      writeFileSync(join(gen, "archy-quadlet-lnd-backup.service"), `[Service]\nExecStart=/usr/local/bin/archy-quadlet backup lnd-scb --source ${src} --dest ${dest} --keep 3\n`);
      mkdirSync(join(n.root, src, ".."), { recursive: true });
      writeFileSync(join(n.root, src), "scb");
      const none = await capture(() => statusCmd({ root: n.root }, nodeAdapter({})));
      expect(none.stdout).toContain(`lnd channel backup: WARNING no copy in ${dest} yet`);
      backupScb({ source: join(n.root, src), dest: join(n.root, dest), keep: 3 });
      const fresh = await capture(() => statusCmd({ root: n.root, json: true }, nodeAdapter({})));
      const j = JSON.parse(fresh.stdout).lndBackup;
      expect(j).toMatchObject({ source: src, dest, stale: false, sourceExists: true });
      expect(j.newest.startsWith(`${dest}/channel-`)).toBe(true);
      const future = new Date(Date.now() + 60_000);
      utimesSync(join(n.root, src), future, future);
      const stale = await capture(() => statusCmd({ root: n.root }, nodeAdapter({})));
      expect(stale.stdout).toMatch(/lnd channel backup: newest copy \d+s old in \/srv\/backup\/lnd — WARNING: lnd's channel.backup is newer than it/);
    } finally {
      n.cleanup();
    }
  });
});
