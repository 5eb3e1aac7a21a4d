// The product on a real node: Debian trixie, systemd 257, Podman 5.4, booted
// with systemd-nspawn. archy-quadlet (the single-file bundle) runs *inside* the
// guest exactly as on an archy node; every assertion asks systemctl/podman.
// Missing root, nspawn or debootstrap make this fail, never skip.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { shellQuote } from "./harness/machine.js";
import { bootedGuest, containersOf, MANIFESTS, REPO, SELECTION, stage, type Release } from "./node-kit.js";
import { BAD_UI_PATCH } from "./overlay.js";

const APPS = ["bitcoin-knots", "lnd", "electrumx", "bitcoin-ui"];
const CONTAINERS = containersOf(APPS).map((c) => c.name);
/** A value systemd and quadlet would both mangle if escaping were wrong (a release sets it as an env value). */
const HOSTILE = `"lead %h %% $HOME \${X} $$ 'sq' back\\slash\ttab ü\u202Ertl e\u0301 trail"`;
const withHostile = (a: Record<string, any>) => (a.containers.electrumx.environment = { ...a.containers.electrumx.environment, HOSTILE });

const { machine } = bootedGuest("node");
const host = mkdtempSync(join(tmpdir(), "archy-e2e-host-"));
const sh = async (cmd: string, timeoutMs = 180_000) => (await machine().exec(cmd, { timeoutMs })).stdout;
const shTry = (cmd: string, timeoutMs = 180_000) => machine().exec(cmd, { timeoutMs, allowFail: true });

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Write a release's manifests + selection into the guest, where the node keeps them, with its stand-in images. */
async function release(o: Partial<Release> = {}): Promise<void> {
  await stage(machine(), { apps: APPS, ...o, tweak: { electrumx: withHostile, ...o.tweak } });
}

const apply = (extra = "") => shTry(`archy-quadlet apply --manifests ${MANIFESTS} --select ${SELECTION} ${extra}`, 300_000);

async function ids(): Promise<Record<string, string>> {
  const out = await sh(`podman ps --format '{{.Names}} {{.ID}}'`);
  return Object.fromEntries(out.trim().split("\n").filter(Boolean).map((l) => l.split(" ") as [string, string]));
}

async function activeState(unit: string): Promise<string> {
  return (await shTry(`systemctl is-active ${unit}`)).stdout.trim();
}

async function allActive(): Promise<boolean> {
  for (const c of CONTAINERS) if ((await activeState(`${c}.service`)) !== "active") return false;
  return true;
}

afterAll(() => rmSync(host, { recursive: true, force: true }));

describe("archy node on systemd 257 + podman 5.4", () => {
  it("a. apps up: services active, network, names, host.archipelago, configs and hostile values reach the processes", async () => {
    await release();
    const r = await apply();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await waitFor("all archy services active", allActive, 120_000);

    const build = await sh("systemctl show archy-bitcoin-ui-build.service -p Result -p ActiveState");
    expect(build).toMatch(/Result=success/);

    const net = JSON.parse(await sh("podman network inspect archy"))[0];
    expect(net.subnets[0]).toMatchObject({ subnet: "10.89.0.0/24", gateway: "10.89.0.1" });
    for (const c of CONTAINERS) {
      const nets = JSON.parse(await sh(`podman inspect ${c} --format '{{json .NetworkSettings.Networks}}'`));
      expect(Object.keys(nets), c).toEqual(["archy"]);
      expect(nets.archy.IPAddress).toMatch(/^10\.89\.0\./);
      expect(await sh(`podman exec ${c} grep host.archipelago /etc/hosts`)).toMatch(/^10\.89\.0\.1\s+host\.archipelago/m);
    }
    // Containers resolve each other by name (aardvark-dns on the archy network); bitcoind wants credentials.
    expect(await sh("podman exec electrumx sh -c 'wget -q -O - http://bitcoin-knots:8332/ 2>&1; true'")).toMatch(/401/);

    // Derived configs reach the processes: read-only nginx.conf, lnd.conf, bitcoin.conf, env file.
    const nginx = await sh("cat /etc/archy/bitcoin-ui/nginx.conf");
    expect(await sh("podman exec archy-bitcoin-ui cat /etc/nginx/conf.d/default.conf")).toBe(nginx);
    expect((await shTry("podman exec archy-bitcoin-ui sh -c 'echo x >> /etc/nginx/conf.d/default.conf'")).code).not.toBe(0);
    expect(await sh("podman exec lnd cat /etc/lnd/lnd.conf")).toBe(await sh("cat /etc/archy/lnd/lnd.conf"));
    expect(await sh("podman exec bitcoin-knots cat /etc/bitcoin/bitcoin.conf")).toMatch(/^rpcauth=electrumx:[0-9a-f]{32}\$[0-9a-f]{64}$/m);
    // What the process itself sees: PID 1's environment.
    const environ = (await sh("podman exec electrumx cat /proc/1/environ")).split("\0");
    const envLine = (await sh("grep ^DAEMON_URL= /etc/archy/electrumx/electrumx.env")).trim();
    expect(environ).toContain(envLine);
    expect(await sh("stat -c %a /etc/archy/electrumx/electrumx.env /etc/archy/lnd/lnd.conf /var/lib/archy/secrets")).toBe("600\n600\n700\n");

    // A hostile value arrives byte for byte as an environment value.
    expect(environ).toContain(`HOSTILE=${HOSTILE}`);
    // The reconciler reacts to every manifest write; the scenarios below drive apply by hand
    // and scenario h switches it back on.
    await sh("systemctl stop archy-quadlet-reconcile.path archy-quadlet-reconcile.timer");
  });

  it("status and explain agree with systemctl and podman on the booted node", async () => {
    const st = await shTry("archy-quadlet status --json");
    expect(st.code, st.stderr).toBe(0);
    const status = JSON.parse(st.stdout);
    expect(status.ok).toBe(true);
    const seen = status.apps.flatMap((a: { containers: { name: string; activeState: string; container: { state: string } }[] }) => a.containers);
    expect(seen.map((c: { name: string }) => c.name).sort()).toEqual([...CONTAINERS].sort());
    for (const c of seen) {
      expect(c.activeState, c.name).toBe(await activeState(`${c.name}.service`));
      expect(c.container.state, c.name).toBe((await sh(`podman inspect ${c.name} --format '{{.State.Status}}'`)).trim());
    }
    const ex = await shTry(`archy-quadlet explain electrumx --manifests ${MANIFESTS} --select ${SELECTION} --secrets /var/lib/archy/secrets --json`);
    expect(ex.code, ex.stderr).toBe(0);
    const explained = JSON.parse(ex.stdout);
    expect(explained.quadlet.status).toBe("ok");
    const argv: string[] = explained.containers[0].argv;
    expect(argv.join(" ")).toContain("--env-file /etc/archy/electrumx/electrumx.env");
    // The argv podman actually ran the container with, as recorded by podman.
    const created: string[] = JSON.parse(await sh("podman inspect electrumx --format '{{json .Config.CreateCommand}}'"));
    // %t/%N specifiers are expanded by systemd at start; everything else must match word for word.
    const norm = (a: string[]) => a.filter((w) => !w.includes("%") && !w.startsWith("--cidfile=")).sort();
    expect(norm(argv)).toEqual(norm(created));
    expect(explained.dependencies.requires.map((d: { app: string }) => d.app)).toEqual(["bitcoin-knots"]);
  });

  it("d. health gating: lnd starts only after bitcoin-knots reports healthy", async () => {
    const mono = async (unit: string, prop: string) => Number((await sh(`systemctl show ${unit} -p ${prop} --value`)).trim());
    const btcActive = await mono("bitcoin-knots.service", "ActiveEnterTimestampMonotonic");
    const btcStart = await mono("bitcoin-knots.service", "ExecMainStartTimestampMonotonic");
    const lndStart = await mono("lnd.service", "ExecMainStartTimestampMonotonic");
    // The stand-in answers RPC after a few seconds and podman's first check runs after the interval:
    // bitcoin's activation waits for it, lnd waits for the activation.
    expect(btcActive - btcStart).toBeGreaterThan(3_000_000);
    expect(lndStart).toBeGreaterThanOrEqual(btcActive);
    expect(await sh("podman healthcheck run bitcoin-knots && echo healthy")).toMatch(/healthy/);
  });

  it("b. minimal restart: changing one app restarts only its containers", async () => {
    const before = await ids();
    // A release that changes one of electrumx's own environment values (not a declared setting).
    await release({ tweak: { electrumx: (a) => (withHostile(a), ((a.containers as any).electrumx.environment.E2E_RELEASE = "2")) } });
    const r = await apply();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/restart electrumx\.service/);
    await waitFor("all archy services active", allActive);
    const after = await ids();
    expect(after.electrumx).not.toBe(before.electrumx);
    for (const c of CONTAINERS.filter((x) => x !== "electrumx")) expect(after[c], c).toBe(before[c]);
    // And a second apply is a no-op: nothing restarts.
    const again = await apply();
    expect(again.stdout).toMatch(/nothing to do/);
    expect(await ids()).toEqual(after);
  });

  it("e. FM1/FM3: a removed UI companion comes back; restarting podman's services loses nothing", async () => {
    const before = await ids();
    await sh("podman rm -f archy-bitcoin-ui");
    await waitFor("archy-bitcoin-ui back", async () => (await ids())["archy-bitcoin-ui"] !== undefined && (await activeState("archy-bitcoin-ui.service")) === "active", 60_000);
    expect((await ids())["archy-bitcoin-ui"]).not.toBe(before["archy-bitcoin-ui"]);
    await sh("systemctl restart podman.socket && systemctl daemon-reload");
    await waitFor("all archy services active after daemon-reload", allActive);
    expect(Object.keys(await ids()).sort()).toEqual([...CONTAINERS].sort());
  });

  it("h. FM2: a hand-edited bitcoin.conf is restored by the reconcile units and its consumer restarts", async () => {
    await sh("systemctl start archy-quadlet-reconcile.timer archy-quadlet-reconcile.path");
    expect(await activeState("archy-quadlet-reconcile.timer")).toBe("active");
    const good = await sh("cat /etc/archy/bitcoin-knots/bitcoin.conf");
    const before = await ids();
    await sh("echo 'rpcauth=intruder:00$00' >> /etc/archy/bitcoin-knots/bitcoin.conf");
    await waitFor("bitcoin.conf restored by archy-quadlet-reconcile", async () => (await sh("cat /etc/archy/bitcoin-knots/bitcoin.conf")) === good, 100_000);
    await waitFor("all archy services active", allActive);
    expect((await ids())["bitcoin-knots"]).not.toBe(before["bitcoin-knots"]);
    expect(await sh("journalctl -u archy-quadlet-reconcile.service --no-pager -o cat")).toMatch(/restart bitcoin-knots\.service \(config changed: \/etc\/archy\/bitcoin-knots\/bitcoin\.conf\)/);
    await sh("systemctl stop archy-quadlet-reconcile.path archy-quadlet-reconcile.timer");
  });

  it("g. FM5: a bad OTA release is rolled back once by the shipped unit; a healthy one is marked good", async () => {
    await sh(`printf 'probe: { url: "http://127.0.0.1:8081/", request_timeout: 2s }\\nwindow: 20s\\nretry_interval: 1s\\n' > /etc/archy-quadlet/ota.yaml`);
    const gens = async () => JSON.parse(await sh("archy-quadlet generations --json")).generations as { id: number; state: string; current: boolean }[];
    const good = (await gens()).find((g) => g.current)!;
    await sh("archy-quadlet ota prepare --release bad-1");
    await release({ uiPatch: { "bitcoin-ui": BAD_UI_PATCH }, tweak: { "bitcoin-ui": (a) => (a.version = "1.0.1-bad") } });
    expect((await apply()).code).toBe(0);
    expect((await shTry("busybox wget -q -O /dev/null http://127.0.0.1:8081/")).code).not.toBe(0);

    await shTry("systemctl start archy-quadlet-ota-verify.service", 120_000);
    const res = await sh("systemctl show archy-quadlet-ota-verify.service -p ExecMainStatus --value");
    expect(res.trim()).toBe("1"); // 1 = release failed and was rolled back
    const after = await gens();
    expect(after.find((g) => g.current)!.id).toBe(good.id);
    expect(after.find((g) => g.id > good.id)!.state).toBe("failed");
    await waitFor("UI healthy again", async () => (await shTry("busybox wget -q -O /dev/null http://127.0.0.1:8081/")).code === 0, 60_000);
    expect(await sh("journalctl -u archy-quadlet-ota-verify.service --no-pager -o cat")).toMatch(/rolling back/);

    // No loop: verifying again changes nothing.
    const again = await shTry("archy-quadlet ota verify");
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/no pending verification/);
    expect((await gens()).find((g) => g.current)!.id).toBe(good.id);

    // A healthy release is marked good.
    await sh("archy-quadlet ota prepare --release good-2");
    await release({ tweak: { "bitcoin-ui": (a) => (a.version = "1.0.2") } });
    expect((await apply()).code).toBe(0);
    await waitFor("all archy services active", allActive);
    const ok = await shTry("archy-quadlet ota verify");
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const cur = (await gens()).find((g) => g.current)!;
    expect(cur.id).toBeGreaterThan(good.id);
    expect(cur.state).toBe("good");
  });

  it("c. removal: a removed app's service is gone; a foreign unit is untouched", async () => {
    await machine().buildBusyboxImage();
    await machine().writeFile("/etc/containers/systemd/foreign.container", "[Container]\nImage=localhost/archy-e2e-busybox:latest\nExec=/bin/sh -c \"trap 'exit 0' TERM; while :; do sleep 1 & wait; done\"\n");
    await sh("systemctl daemon-reload");
    await release({ apps: APPS.filter((a) => a !== "bitcoin-ui") });
    const r = await apply();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/stop +archy-bitcoin-ui\.service/);
    expect((await sh("systemctl show archy-bitcoin-ui.service -p LoadState --value")).trim()).toBe("not-found");
    expect((await ids())["archy-bitcoin-ui"]).toBeUndefined();
    expect(await sh("cat /etc/containers/systemd/foreign.container")).toMatch(/^Image=localhost\/archy-e2e-busybox/m);
    expect((await sh("systemctl show foreign.service -p LoadState --value")).trim()).toBe("loaded");
    // Put it back for the scenarios that follow.
    await release();
    expect((await apply()).code).toBe(0);
    await waitFor("all archy services active", allActive, 120_000);
  });

  it("i. crash: apply killed mid-way leaves one whole generation; the next apply completes", async () => {
    await release({ tweak: { lnd: (a) => (a.version = "0.0.1-crash") } });
    const gensBefore = await sh("ls /var/lib/archy-quadlet/generations");
    const killed = await shTry(`ARCHY_QUADLET_CRASH_AFTER=12 archy-quadlet apply --manifests ${MANIFESTS} --select ${SELECTION}`);
    expect(killed.code).toBe(137);
    // Whatever is active is a complete generation.
    const cur = (await sh("readlink /var/lib/archy-quadlet/current")).trim();
    expect(await sh(`test -f /var/lib/archy-quadlet/${cur}/meta.json && echo complete`)).toBe("complete\n");
    const r = await apply();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await waitFor("all archy services active", allActive, 120_000);
    expect(await sh("ls -a /var/lib/archy-quadlet/generations")).not.toMatch(/\.tmp/);
    expect(gensBefore).not.toBe(await sh("ls /var/lib/archy-quadlet/generations"));
    expect(await sh("podman inspect lnd --format '{{index .Config.Labels \"archy.version\"}}'")).toBe("0.0.1-crash\n");
  });

  it("f. FM6: a lost Podman database is healed; bind-mounted data is byte-identical", async () => {
    const blob = randomBytes(1 << 20).toString("base64");
    await machine().writeFile("/var/lib/archy/apps/bitcoin-knots/data/blocks/blk00000.dat", blob);
    const hash = async () => (await sh("sha256sum /var/lib/archy/apps/bitcoin-knots/data/blocks/blk00000.dat")).split(" ")[0];
    const want = createHash("sha256").update(blob).digest("hex");
    expect(await hash()).toBe(want);
    await sh(`systemctl stop ${CONTAINERS.map((c) => `${c}.service`).join(" ")}`);
    await sh("rm -f /var/lib/containers/storage/db.sql");
    const heal = await shTry("archy-quadlet podman heal --json", 300_000);
    expect(heal.code, heal.stdout + heal.stderr).toBe(0);
    const report = JSON.parse(heal.stdout.slice(heal.stdout.indexOf("{\n")));
    expect(report).toMatchObject({ signature: "database-lost", remedy: "rebuild-lost-database", healed: true });
    await waitFor("all archy services active after heal", allActive, 120_000);
    expect(await hash()).toBe(want);
  });

  it("k. settings: a dbcache change restarts only bitcoind and reaches its bitcoin.conf; prune 550 beside electrumx is refused, nothing switched", async () => {
    const current = async () => JSON.parse(await sh("archy-quadlet generations --json")).generations.find((g: { current: boolean }) => g.current).id as number;
    // From the plain release (scenario i left a bumped lnd version active), then only dbcache changes.
    await release();
    expect((await apply()).code).toBe(0);
    await waitFor("all archy services active", allActive, 300_000);
    const idsBefore = await ids();
    await release({ appSettings: { bitcoin: { dbcache: 777 } } });
    const r = await apply();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // The plan restarts exactly one service…
    const plan = r.stdout.slice(0, r.stdout.indexOf("switched to generation"));
    expect(plan.match(/^\s*(restart|start|stop)\s+\S+\.service/gm)?.map((l) => l.trim().replace(/\s+/g, " "))).toEqual(["restart bitcoin-knots.service"]);
    await waitFor("all archy services active", allActive, 300_000);
    // …and systemd restarted nothing else: every other container is the same one
    // (a restarted unit gets a new container: --replace, --rm).
    const idsAfter = await ids();
    for (const c of CONTAINERS) {
      if (c === "bitcoin-knots") expect(idsAfter[c], c).not.toBe(idsBefore[c]);
      else expect(idsAfter[c], `${c} was restarted by a bitcoind restart`).toBe(idsBefore[c]);
    }
    expect(await sh("podman exec bitcoin-knots cat /etc/bitcoin/bitcoin.conf")).toMatch(/^dbcache=777$/m);
    const before = await current();
    await release({ appSettings: { bitcoin: { prune: 550 } } });
    const bad = await apply();
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/app_settings\.bitcoin\.prune: 550 conflicts with electrumx/);
    expect(await current()).toBe(before);
    expect(await sh("podman exec bitcoin-knots cat /etc/bitcoin/bitcoin.conf")).not.toMatch(/^prune=/m);
  });

  it("l. tor: Debian's tor creates the onion services of the derived torrc, connect prints electrumx's onion; lnd's channel.backup is copied within 5 s, channel.db never", async () => {
    const apps = [...APPS, "tor"];
    await release({ apps });
    const r = await apply();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await waitFor("tor active", async () => (await activeState("tor.service")) === "active", 300_000);
    const hostname = "/var/lib/archy/apps/tor/data/electrumx-electrum/hostname";
    await waitFor("tor wrote electrumx's onion hostname", async () => (await shTry(`test -s ${hostname}`)).code === 0, 60_000);
    const onion = (await sh(`cat ${hostname}`)).trim();
    expect(onion).toMatch(/^[a-z2-7]{56}\.onion$/);
    expect((await sh("podman exec tor cat /data/electrumx-electrum/hostname")).trim()).toBe(onion);
    const c = await shTry(`archy-quadlet connect electrumx --manifests ${MANIFESTS} --select ${SELECTION}`);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    expect(c.stdout).toContain(onion);

    // lnd's static channel backup, written where lnd writes it: a verified copy per change.
    const scb = "/var/lib/archy/apps/lnd/data/data/chain/bitcoin/regtest";
    const dest = "/var/lib/archy-backup/lnd";
    await waitFor("backup path unit active", async () => (await activeState("archy-quadlet-lnd-backup.path")) === "active", 60_000);
    await sh(`mkdir -p ${scb} && head -c 4096 /dev/urandom > ${scb}/channel.db && head -c 2048 /dev/urandom > ${scb}/channel.backup.tmp && mv ${scb}/channel.backup.tmp ${scb}/channel.backup`);
    const sum = async (f: string) => (await sh(`sha256sum ${f}`)).split(" ")[0];
    const want1 = await sum(`${scb}/channel.backup`);
    const t1 = Date.now();
    await waitFor("first copy", async () => (await shTry(`test -f ${dest}/latest.backup`)).code === 0 && (await sum(`${dest}/latest.backup`)) === want1, 5_000);
    const firstMs = Date.now() - t1;
    const copies = async () => (await sh(`ls ${dest} | grep -c '^channel-.*\.backup$' || true`)).trim();
    const n1 = Number(await copies());
    await new Promise((res) => setTimeout(res, 1100)); // a new UTC second for the copy's name
    await sh(`head -c 2048 /dev/urandom > ${scb}/channel.backup.tmp && mv ${scb}/channel.backup.tmp ${scb}/channel.backup`);
    const want2 = await sum(`${scb}/channel.backup`);
    await waitFor("second copy", async () => (await sum(`${dest}/latest.backup`)) === want2, 5_000);
    expect(Number(await copies())).toBe(n1 + 1);
    expect(await sh(`ls -A ${dest}`)).not.toMatch(/channel\.db/);
    console.log(`[e2e] channel.backup copied in ${firstMs} ms`);
  });

  it("j. static: systemd-analyze verify on quadlet's output for the whole real catalog prints nothing", async () => {
    await machine().copyIn(join(REPO, "manifests"), "/root/catalog");
    await sh("archy-quadlet generate --manifests /root/catalog --out /root/catalog-out >/dev/null");
    await sh("mkdir -p /root/gen && QUADLET_UNIT_DIRS=/root/catalog-out/etc/containers/systemd /usr/libexec/podman/quadlet /root/gen");
    const units = (await sh("ls /root/gen")).trim().split("\n").filter((u) => u.endsWith(".service"));
    expect(units.length).toBeGreaterThan(30);
    // Sibling units (archy-network.service, …) are found through the unit path.
    const r = await shTry(`cd /root/gen && SYSTEMD_UNIT_PATH=/root/gen: systemd-analyze verify ${units.map(shellQuote).join(" ")} 2>&1`, 300_000);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});
