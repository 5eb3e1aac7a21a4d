// Tor onion services (issue 16): the derived torrc against the real tor
// (scripts/fetch-tor.sh: Debian trixie's package in a private apt dir), tor's own
// --hash-password against our HashedControlPassword, stable IP= addresses checked by
// the real quadlet, Tor lines in bitcoin.conf / lnd.conf only with tor selected,
// and the compiler's refusals of bad onion entries and backup directories.
import { spawnSync } from "node:child_process";
import { accessSync, constants, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/plan/inputs.js";
import { ReviewSecrets } from "../../src/configs/secrets.js";
import { controlSalt, hashControlPassword } from "../../src/configs/tor.js";
import { allocateIps, displaced, TOR_IP } from "../../src/lower/ip.js";
import { readManifestDir } from "../../src/manifest/read.js";
import { cleanup, cli, tempDir, UNIT_DIR } from "../helpers/cli.js";
import { dryrun, REPO } from "../helpers/quadlet.js";

const MANIFESTS = join(REPO, "manifests");

/** The tor wrapper scripts/fetch-tor.sh prints; never skips: missing tor fails. */
function torBin(): string {
  const bin = process.env.TOR_BIN || join(REPO, ".cache/tor/tor");
  try {
    accessSync(bin, constants.X_OK);
    return bin;
  } catch {
    throw new Error(`tor not found at ${bin}${process.env.CI === "true" ? "; CI must provide it (never skipped)" : ""}: run scripts/fetch-tor.sh (npm test's pretest does) or set TOR_BIN`);
  }
}

function tor(args: string[]): { code: number; out: string } {
  const r = spawnSync(torBin(), args, { encoding: "utf8" });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

let tmp = "";
beforeAll(() => {
  tmp = tempDir("archy-tor-");
});
afterAll(() => cleanup(tmp));
let k = 0;

function sel(apps: string[], settings = ""): string {
  const f = join(tmp, `sel-${k++}.yaml`);
  writeFileSync(f, `apps: [${apps.join(", ")}]\n${settings}`);
  return f;
}

function build(apps: string[] | undefined, settings = "") {
  const r = compile({ manifests: MANIFESTS, select: apps ? sel(apps, settings) : undefined, secrets: new ReviewSecrets() });
  expect(r.diagnostics).toEqual([]);
  const files = new Map(r.files.map((f) => [f.path, String(f.content)]));
  return { r, files, get: (p: string) => files.get(p) };
}

const NODE = ["bitcoin-knots", "tor", "lnd", "electrumx", "mempool"];

describe("HashedControlPassword", () => {
  it("equals tor's own --hash-password for the salt tor chose", () => {
    for (const pw of ["abc", "a longer password with spaces", "review0nly" + "f".repeat(54)]) {
      const r = tor(["--hash-password", pw, "--quiet"]);
      expect(r.code).toBe(0);
      const printed = r.out.trim().split("\n").pop()!;
      expect(printed).toMatch(/^16:[0-9A-F]{58}$/);
      const salt = Buffer.from(printed.slice(3, 19), "hex");
      expect(hashControlPassword(pw, salt)).toBe(printed);
    }
  });

  it("uses a fixed, derived salt: the same secret always gives the same line", () => {
    const salt = Buffer.from("0102030405060708", "hex");
    const a = hashControlPassword("abc", salt);
    expect(a.slice(0, 21)).toBe("16:010203040506070860");
    expect(hashControlPassword("abc", salt)).toBe(a);
    expect(controlSalt("x").equals(controlSalt("x"))).toBe(true);
    expect(controlSalt("x").equals(controlSalt("y"))).toBe(false);
  });
});

describe("derived torrc", () => {
  it("has one HiddenServiceDir and HiddenServicePort per onion entry of electrumx, lnd (9735 + REST + gRPC) and mempool", () => {
    const { get, files } = build(NODE);
    const torrc = get("etc/archy/tor/torrc")!;
    const ip = (c: string) => /^IP=(.*)$/m.exec(files.get(`${UNIT_DIR}/${c}.container`)!)![1];
    const [ex, lnd, web] = [ip("electrumx"), ip("lnd"), ip("mempool-web")];
    for (const l of [
      "HiddenServiceDir /data/electrumx-electrum",
      `HiddenServicePort 50001 ${ex}:50001`,
      "HiddenServiceDir /data/lnd-p2p",
      `HiddenServicePort 9735 ${lnd}:9735`,
      "HiddenServiceDir /data/lnd-rest",
      `HiddenServicePort 8080 ${lnd}:8080`,
      "HiddenServiceDir /data/lnd-grpc",
      `HiddenServicePort 10009 ${lnd}:10009`,
      "HiddenServiceDir /data/mempool-web",
      `HiddenServicePort 80 ${web}:8080`,
      `ControlPort ${TOR_IP}:9051`,
      "DataDirectory /data",
    ]) expect(torrc.split("\n")).toContain(l);
    // Each HiddenServicePort follows its own HiddenServiceDir.
    const lines = torrc.split("\n").filter((l) => l.startsWith("HiddenService"));
    expect(lines.length).toBe(10);
    for (let i = 0; i < lines.length; i += 2) expect(lines[i]).toMatch(/^HiddenServiceDir /);
    // Only the hash of the control password is in torrc.
    const pw = new ReviewSecrets().get("app-tor-control-password");
    expect(torrc).not.toContain(pw);
    expect(torrc).toContain(`HashedControlPassword ${hashControlPassword(pw, controlSalt(pw))}`);
    // tor reads it from the mount the tor container is given.
    const unit = files.get(`${UNIT_DIR}/tor.container`)!;
    expect(unit).toContain("Volume=/etc/archy/tor/torrc:/etc/tor/torrc:ro");
    expect(unit).toMatch(/^Exec=-f \/etc\/tor\/torrc$/m);
  });

  it("passes the real tor's --verify-config (and a host-name target would not)", () => {
    const { get } = build(NODE);
    const f = join(tmp, "torrc");
    writeFileSync(f, get("etc/archy/tor/torrc")!);
    const ok = tor(["--verify-config", "-f", f]);
    expect(ok.out).toContain("Configuration was valid");
    expect(ok.code).toBe(0);
    const bad = join(tmp, "torrc-hostname");
    writeFileSync(bad, get("etc/archy/tor/torrc")!.replace(/HiddenServicePort 50001 [0-9.]+:50001/, "HiddenServicePort 50001 electrumx:50001"));
    const no = tor(["--verify-config", "-f", bad]);
    expect(no.code).not.toBe(0);
    expect(no.out).toContain("Unparseable address in hidden service port configuration");
  });

  it("changes only when the set of onion services changes (so tor restarts only then)", () => {
    const base = build(["bitcoin-knots", "tor", "electrumx"]).get("etc/archy/tor/torrc");
    expect(build(["bitcoin-knots", "tor", "electrumx", "netdata", "bitcoin-ui"]).get("etc/archy/tor/torrc")).toBe(base);
    expect(build(["bitcoin-knots", "tor", "electrumx"], "settings:\n  bitcoin_network: testnet\n").get("etc/archy/tor/torrc")).toBe(base);
    expect(build(["bitcoin-knots", "tor", "electrumx", "mempool"]).get("etc/archy/tor/torrc")).not.toBe(base);
  });

  it("is inert without tor: no torrc, no IP=, no Tor lines", () => {
    const { files, get } = build(["bitcoin-knots", "lnd", "electrumx"]);
    expect([...files.keys()].some((p) => p.includes("torrc"))).toBe(false);
    for (const [p, c] of files) if (p.startsWith(UNIT_DIR) && p.endsWith(".container")) expect(c).not.toMatch(/^IP=/m);
    expect(get("etc/archy/bitcoin-knots/bitcoin.conf")).not.toMatch(/proxy=|listenonion|torcontrol|torpassword/);
    expect(get("etc/archy/lnd/lnd.conf")).not.toContain("[tor]");
  });
});

describe("bitcoind and lnd over Tor", () => {
  it("bitcoin.conf and lnd.conf carry Tor lines with tor selected, the same control password as torrc", () => {
    const { get, files } = build(NODE);
    const pw = new ReviewSecrets().get("app-tor-control-password");
    const knots = /^IP=(.*)$/m.exec(files.get(`${UNIT_DIR}/bitcoin-knots.container`)!)![1];
    const lndIp = /^IP=(.*)$/m.exec(files.get(`${UNIT_DIR}/lnd.container`)!)![1];
    const conf = get("etc/archy/bitcoin-knots/bitcoin.conf")!.split("\n");
    for (const l of [`proxy=${TOR_IP}:9050`, "listenonion=0"]) expect(conf).toContain(l);
    // No control password in the world-readable bitcoin.conf (bitcoind creates no onion of its own).
    expect(conf.join("\n")).not.toMatch(/torpassword|torcontrol/);
    expect(conf.join("\n")).not.toContain(pw);
    // In the network section, after [main].
    expect(conf.indexOf("listenonion=0")).toBeGreaterThan(conf.indexOf("[main]"));
    const lnd = get("etc/archy/lnd/lnd.conf")!.split("\n");
    // lnd resolves names through Tor once tor.active: bitcoind by its stable address.
    expect(lnd).toContain(`bitcoind.rpchost=${knots}:8332`);
    expect(lnd).toContain(`bitcoind.zmqpubrawblock=tcp://${knots}:28332`);
    expect(build(NODE, "settings:\n  tor: { lnd: false }\n").get("etc/archy/lnd/lnd.conf")).toContain("bitcoind.rpchost=bitcoin-knots:8332");
    for (const l of ["[tor]", "tor.active=true", `tor.socks=${TOR_IP}:9050`, `tor.control=${TOR_IP}:9051`, `tor.password=${pw}`, "tor.v3=true", `tor.targetipaddress=${lndIp}`]) expect(lnd).toContain(l);
  });

  it("a selection setting keeps an app off Tor", () => {
    const { get } = build(NODE, "settings:\n  tor: { lnd: false }\n");
    expect(get("etc/archy/lnd/lnd.conf")).not.toContain("[tor]");
    expect(get("etc/archy/bitcoin-knots/bitcoin.conf")).toContain("listenonion=0");
    const off = build(NODE, "settings:\n  tor: { bitcoin-knots: false }\n");
    expect(off.get("etc/archy/bitcoin-knots/bitcoin.conf")).not.toContain("listenonion");
  });
});

describe("stable addresses (IP=)", () => {
  it("are unique, outside podman's dynamic range, on their own hash slot, and independent of the selection", () => {
    const ips = allocateIps(readManifestDir(MANIFESTS, []));
    const values = [...ips.values()];
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) {
      const last = Number(v.split(".")[3]);
      expect(v.startsWith("10.89.0.")).toBe(true);
      expect(last).toBeGreaterThanOrEqual(128);
      expect(last).toBeLessThanOrEqual(254);
    }
    expect(displaced(ips)).toEqual([]);
    const small = build(["bitcoin-knots", "tor", "electrumx"]).files;
    const big = build(NODE).files;
    for (const c of ["electrumx", "bitcoin-knots", "tor"]) {
      const a = /^IP=.*$/m.exec(small.get(`${UNIT_DIR}/${c}.container`)!)![0];
      expect(/^IP=.*$/m.exec(big.get(`${UNIT_DIR}/${c}.container`)!)![0]).toBe(a);
      expect(a).toBe(`IP=${ips.get(c)}`);
    }
  });

  it("the archy network keeps dynamic addresses in the lower half, and the real quadlet passes IP= as --ip", () => {
    const { files } = build(NODE);
    expect(files.get(`${UNIT_DIR}/archy.network`)).toMatch(/^IPRange=10\.89\.0\.0\/25$/m);
    const dir = join(tmp, `units-${k++}`);
    mkdirSync(dir, { recursive: true });
    for (const [p, c] of files) if (p.startsWith(`${UNIT_DIR}/`)) writeFileSync(join(dir, p.slice(UNIT_DIR.length + 1)), c);
    const d = dryrun(dir);
    expect(d.code).toBe(0);
    const ip = /^IP=(.*)$/m.exec(files.get(`${UNIT_DIR}/electrumx.container`)!)![1]!;
    expect(d.services.get("electrumx.service")).toContain(`--ip ${ip}`);
    expect(d.services.get("archy-network.service")).toContain("--ip-range 10.89.0.0/25");
  });
});

describe("bad input: diagnostics with file:line:col, exit 2, nothing written", () => {
  function catalogWith(edit: (lnd: string) => string): string {
    const dir = join(tmp, `cat-${k++}`);
    cpSync(MANIFESTS, dir, { recursive: true });
    const f = join(dir, "lnd.yaml");
    writeFileSync(f, edit(readFileSync(f, "utf8")));
    return dir;
  }
  const cases: [string, (s: string) => string, RegExp][] = [
    ["duplicate onion name", (s) => s.replace("{ name: grpc, port: 10009 }", "{ name: rest, port: 10009 }"), /lnd\.yaml:\d+:\d+: .*onion name "rest" is already used/],
    ["port not declared", (s) => s.replace("{ name: grpc, port: 10009 }", "{ name: grpc, port: 10010 }"), /lnd\.yaml:\d+:\d+: .*port 10010 is not a TCP port this container declares/],
    ["virtual port out of range", (s) => s.replace("{ name: grpc, port: 10009 }", "{ name: grpc, port: 10009, virtual_port: 70000 }"), /lnd\.yaml:\d+:\d+: .*virtual_port must be within 1-65535/],
  ];
  it("two apps whose <app>-<name> directories coincide", async () => {
    const dir = catalogWith((s) => s);
    writeFileSync(join(dir, "lnd-rest.yaml"), readFileSync(join(dir, "electrumx.yaml"), "utf8").replace("id: electrumx", "id: lnd-rest").replace(/provides: .*\n/, "").replace("{ name: electrum, port: 50001 }", "{ name: grpc, port: 50001 }").replace("host: 50001", "host: 50011"));
    writeFileSync(join(dir, "lnd.yaml"), readFileSync(join(dir, "lnd.yaml"), "utf8").replace("{ name: grpc, port: 10009 }", "{ name: rest-grpc, port: 10009 }"));
    const out = join(tmp, `out-${k++}`);
    const r = await cli(["generate", "--manifests", dir, "--out", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/yaml:\d+:\d+: .*the hidden service directory lnd-rest-grpc is already app "ln/);
    expect(existsSync(out)).toBe(false);
  });

  for (const [what, edit, want] of cases) {
    it(what, async () => {
      const out = join(tmp, `out-${k++}`);
      const r = await cli(["generate", "--manifests", catalogWith(edit), "--out", out]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(want);
      expect(existsSync(out)).toBe(false);
    });
  }

  for (const [dir, want] of [
    ["/var/lib/archy/apps/lnd/backup", /inside lnd's data/],
    ["/usr/local/scb", /cannot hold the backups: it is inside \/usr/],
    ["/etc/archy/lnd-backup", /is under \/etc\/archy/],
    ["/tmp/scb", /is under \/tmp/],
  ] as const) {
    it(`backup dir ${dir}`, async () => {
      const out = join(tmp, `out-${k++}`);
      const s = sel(NODE, `settings:\n  lnd_backup: { dir: ${dir} }\n`);
      const r = await cli(["generate", "--manifests", MANIFESTS, "--select", s, "--out", out]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`sel-\\d+\\.yaml:3:\\d+: .*${want.source}`));
      expect(existsSync(out)).toBe(false);
    });
  }
});

describe("explain", () => {
  it("says when onion entries are inert (tor not selected) and what they become with tor", async () => {
    const off = await cli(["explain", "electrumx", "--manifests", MANIFESTS, "--select", sel(["bitcoin-knots", "electrumx"]), "--json", "--quadlet", "/nonexistent"]);
    const j = JSON.parse(off.stdout);
    expect(j.onion.active).toBe(false);
    expect(j.onion.note).toMatch(/^inert: tor is not selected/);
    const on = await cli(["explain", "electrumx", "--manifests", MANIFESTS, "--select", sel(["bitcoin-knots", "tor", "electrumx"]), "--quadlet", "/nonexistent"]);
    expect(on.stdout).toContain("Onion services");
    expect(on.stdout).toContain("electrum: electrumx:50001 → <onion>:50001 (HiddenServiceDir /data/electrumx-electrum)");
    expect(on.stdout).toContain("tor restarts only when the set of onion services changes");
    // Apps without onion entries: onion is null.
    const none = await cli(["explain", "bitcoin-knots", "--manifests", MANIFESTS, "--select", sel(["bitcoin-knots"]), "--json", "--quadlet", "/nonexistent"]);
    expect(JSON.parse(none.stdout).onion).toBeNull();
  });
});

describe("the real tor with the derived torrc", () => {
  it("creates every hidden service directory with a hostname, and connect prints that onion", async () => {
    const { spawn } = await import("node:child_process");
    const { readFileSync: read, existsSync: exists } = await import("node:fs");
    const { get } = build(NODE);
    // The node's layout under a temp root: tor's data dir as the storage mapping puts it.
    const root = join(tmp, `root-${k++}`);
    const data = join(root, "var/lib/archy/apps/tor/data");
    mkdirSync(data, { recursive: true });
    // Only what a host without the archy network needs changed: paths, no listeners, no network.
    const torrc = get("etc/archy/tor/torrc")!
      .replace(/^DataDirectory \/data$/m, `DataDirectory ${data}`)
      .replace(/^HiddenServiceDir \/data\//gm, `HiddenServiceDir ${data}/`)
      .replace(/^ControlPort .*$/m, "ControlPort 0")
      .replace(/^SocksPort .*$/m, "SocksPort 0");
    const f = join(root, "torrc");
    writeFileSync(f, `${torrc}DisableNetwork 1\n`);
    const child = spawn(torBin(), ["-f", f], { stdio: "ignore" });
    const dirs = ["electrumx-electrum", "lnd-p2p", "lnd-rest", "lnd-grpc", "mempool-web"];
    try {
      for (let i = 0; i < 100 && !dirs.every((d) => exists(join(data, d, "hostname"))); i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      child.kill("SIGTERM");
    }
    for (const d of dirs) expect(read(join(data, d, "hostname"), "utf8")).toMatch(/^[a-z2-7]{56}\.onion\n$/);
    const onion = read(join(data, "electrumx-electrum/hostname"), "utf8").trim();
    const s = sel(NODE);
    const r = await cli(["connect", "electrumx", "--manifests", MANIFESTS, "--select", s, "--root", root, "--host", "node.lan"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`onion electrum: ${onion}:50001`);
    expect(r.stdout).toContain(`Electrum server: ${onion}:50001:t`);
  });
});

describe("through the storage mapping", () => {
  it("connect reads tor's hostname files, and the backup units watch lnd's channel.backup, where the selection maps them", async () => {
    const settings = "storage:\n  tor: { data: /srv/tor-data }\n  lnd: { data: volume:lnd_data }\n";
    const { get } = build(NODE, settings);
    expect(get("etc/systemd/system/archy-quadlet-lnd-backup.path")).toContain("PathChanged=/var/lib/containers/storage/volumes/lnd_data/_data/data/chain/bitcoin/mainnet/channel.backup");
    const root = join(tmp, `root-${k++}`);
    mkdirSync(join(root, "srv/tor-data/electrumx-electrum"), { recursive: true });
    const onion = `${"a".repeat(56)}.onion`;
    writeFileSync(join(root, "srv/tor-data/electrumx-electrum/hostname"), `${onion}\n`);
    const r = await cli(["connect", "electrumx", "--manifests", MANIFESTS, "--select", sel(NODE, settings), "--root", root, "--host", "node.lan", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.onion[0]).toMatchObject({ address: onion, hostnameFile: "/srv/tor-data/electrumx-electrum/hostname" });
    // A backup dir inside lnd's mapped data is refused like one under its default directory.
    const bad = await cli(["validate", "--manifests", MANIFESTS, "--select", sel(NODE, "settings:\n  lnd_backup: { dir: /mnt/lnd/backup }\nstorage:\n  lnd: { data: /mnt/lnd }\n")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("is inside lnd's data (/mnt/lnd)");
  });

  it("connect --rpc-user names an rpc_users entry: a store-backed password with --show-secrets, an rpcauth entry says the password is not here", async () => {
    const settings = `rpc_users:\n  - { name: sparrow, secret: true }\n  - { name: dashboard, rpcauth: "dashboard:${"0".repeat(32)}$${"1".repeat(64)}" }\n`;
    const s = sel(NODE, settings);
    const pw = new ReviewSecrets().get("rpc-user-sparrow");
    const shown = await cli(["connect", "bitcoin-knots", "--manifests", MANIFESTS, "--select", s, "--rpc-user", "sparrow", "--show-secrets", "--json", "--host", "node.lan"]);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout).bitcoinRpc).toMatchObject({ user: "sparrow", password: pw });
    const hidden = await cli(["connect", "bitcoin-knots", "--manifests", MANIFESTS, "--select", s, "--rpc-user", "sparrow", "--json", "--host", "node.lan"]);
    expect(hidden.stdout).not.toContain(pw);
    const foreign = await cli(["connect", "bitcoin-knots", "--manifests", MANIFESTS, "--select", s, "--rpc-user", "dashboard", "--json", "--show-secrets", "--host", "node.lan"]);
    const j = JSON.parse(foreign.stdout);
    expect(j.bitcoinRpc.password).toBeNull();
    expect(j.missing.join("\n")).toContain('"dashboard" is an rpcauth entry');
  });
});
