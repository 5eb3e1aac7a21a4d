// adopt against podman 5.4's JSON captured in the e2e guest (test/adopt/fixtures/podman-5.4, see its README) and a
// temp root holding the legacy data dirs and configs. Proves: matching by name and by image,
// the storage proposal, unmapped mounts, fresh volumes, legacy bitcoin.conf/lnd.conf import,
// the write (comments kept, passwords into the store 0600, never printed), and every refusal.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execFileSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { writeOverlay } from "../e2e/overlay.js";
import { RecordingAdapter, type RecordedCall } from "../../src/apply/adapter.js";
import { adopt, type AdoptOptions } from "../../src/adopt/adopt.js";
import { compile } from "../../src/plan/inputs.js";
import { SecretStore } from "../../src/configs/secrets.js";
import { rpcauthHash } from "../../src/configs/rpcauth.js";
import { UserError } from "../../src/manifest/diagnostics.js";
import { Failure } from "../../src/outcome.js";
import { text } from "../../src/cli/adopt.js";

const FIX = join(import.meta.dirname, "fixtures", "podman-5.4");
// The catalog as the e2e guest ran it when the fixtures were captured: each image a local stand-in
// (test/e2e/overlay.ts changes only `image:`), so matching by image repository sees the same names.
const MANIFESTS = mkdtempSync(join(tmpdir(), "archy-adopt-manifests-"));
chmodSync(MANIFESTS, 0o755); // readable by the unprivileged uid of the unreadable-config test
writeOverlay(MANIFESTS, { apps: ["bitcoin-knots", "lnd", "electrumx"] });
afterAll(() => rmSync(MANIFESTS, { recursive: true, force: true }));
const fixture = (n: string) => readFileSync(join(FIX, n), "utf8");
const LEGACY_PW = "Legacy-Pa55word_x";
const FOREIGN = "sparrow:5ad1b7c1c0ffee0123456789abcdef01$" + "c".repeat(64);

const BITCOIN_CONF = `# legacy bitcoin.conf
chain=test
server=1
prune=550
dbcache=1024
rpcuser=dashboard
rpcpassword=${LEGACY_PW}
rpcauth=${FOREIGN}
rpcauth=lnd:0123456789abcdef0123456789abcdef$${"d".repeat(64)}
mystery=42
[signet]
prune=0
[test]
maxconnections=20
`;

const WITH_ELECTRUMX = "apps: [bitcoin-knots, lnd, electrumx]\n";
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Node {
  root: string;
  select: string;
  secrets: string;
  adapter: RecordingAdapter;
  opts: (extra?: Partial<AdoptOptions>) => AdoptOptions;
}

function node(o: { ps?: string; inspect?: string; volumes?: Record<string, string>; selection?: string; bitcoinConf?: string | Buffer; lndConf?: string } = {}): Node {
  const dir = mkdtempSync(join(tmpdir(), "archy-adopt-"));
  dirs.push(dir);
  const root = join(dir, "root");
  const put = (p: string, c: string | Buffer, mode = 0o644) => {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), c, { mode });
  };
  put("srv/legacy/bitcoin/blocks/marker", Buffer.alloc(1024, 7));
  put("srv/legacy/bitcoin/bitcoin.conf", o.bitcoinConf ?? BITCOIN_CONF);
  put("srv/legacy/bitcoin-backup/x", "x");
  put("srv/legacy/electrumx/marker", "e");
  put("var/lib/containers/storage/volumes/lnd-legacy/_data/marker", "l");
  put("var/lib/containers/storage/volumes/lnd-legacy/_data/pw", "lnd wallet pw\n".replace(/ /g, "-"));
  put("var/lib/containers/storage/volumes/lnd-legacy/_data/lnd.conf", o.lndConf ?? "[Application Options]\nalias=my-node\nwallet-unlock-password-file=/data/pw\n\n[Bitcoin]\nbitcoin.testnet=1\nbitcoin.node=bitcoind\n");
  const select = join(dir, "node.yaml");
  writeFileSync(select, o.selection ?? "# my node\napps: [bitcoin-knots, lnd] # what runs\nsettings:\n  bitcoin_network: mainnet # default\n", { mode: 0o640 });
  const volumes = o.volumes ?? { "lnd-legacy": fixture("volume-lnd-legacy.json") };
  const adapter = new RecordingAdapter([
    (c: RecordedCall) => (c.cmd === "podman" && c.args[0] === "ps" ? { code: 0, stdout: o.ps ?? fixture("ps.json"), stderr: "" } : undefined),
    (c: RecordedCall) => (c.cmd === "podman" && c.args[0] === "container" ? { code: 0, stdout: o.inspect ?? fixture("inspect.json"), stderr: "" } : undefined),
    (c: RecordedCall) => {
      if (c.cmd !== "podman" || c.args[0] !== "volume") return undefined;
      const v = volumes[c.args[2]!];
      return v ? { code: 0, stdout: v, stderr: "" } : { code: 125, stdout: "", stderr: `Error: no such volume ${c.args[2]}` };
    },
  ]);
  const secrets = join(dir, "secrets");
  return { root, select, secrets, adapter, opts: (extra = {}) => ({ select, manifests: MANIFESTS, root, secrets, write: false, ...extra }) };
}

describe("adopt: the proposal", () => {
  it("matches by name and by image, maps mounts by destination, lists what it cannot map and what starts empty", async () => {
    const n = node({ selection: WITH_ELECTRUMX, bitcoinConf: "chain=test\ntxindex=1\n" });
    const before = readFileSync(n.select, "utf8");
    const r = await adopt(n.adapter, n.opts());
    expect(r.matched.map((m) => `${m.container}←${m.legacy} by ${m.by} (${m.state})`)).toEqual([
      "bitcoin-knots←bitcoin-knots by name (running)",
      "electrumx←electrumx-old by image (exited)",
      "lnd←lnd by name (running)",
    ]);
    expect(r.storage).toEqual({ "bitcoin-knots": { data: "/srv/legacy/bitcoin" }, electrumx: { db: "/srv/legacy/electrumx" }, lnd: { data: "volume:lnd-legacy" } });
    expect(r.unmapped_mounts).toEqual([{ legacy: "bitcoin-knots", type: "bind", source: "/srv/legacy/bitcoin-backup", destination: "/backup", why: `"bitcoin-knots" mounts nothing at /backup` }]);
    expect(r.fresh.map((f) => `${f.app}.${f.source}`)).toEqual(["lnd.macaroons", "lnd.seed"]);
    // Only reads: ps, one inspect of every container, the one named volume.
    expect(n.adapter.calls.map((c) => [c.cmd, ...c.args.slice(0, 2)].join(" "))).toEqual(["podman ps -a", "podman container inspect", "podman volume inspect lnd-legacy"].map((s) => s.split(" ").slice(0, 3).join(" ")));
    expect(readFileSync(n.select, "utf8")).toBe(before);
    expect(r.written).toBe(false);
  });

  it("reads the legacy bitcoin.conf and lnd.conf: network, typed settings, rpc users; lists the rest with file:line", async () => {
    const n = node();
    const r = await adopt(n.adapter, n.opts());
    expect(r.settings.bitcoin_network).toBe("testnet");
    // [test] applies (this node's network); [signet] does not.
    // txindex is not in the file: bitcoind ran without it (its default), the catalog's default is true: carried as false.
    expect(r.settings.app_settings).toEqual({ "bitcoin-knots": { prune: 550, dbcache: 1024, maxconnections: 20, txindex: false } });
    expect(r.rpc_users).toEqual([{ name: "dashboard", secret: true }, { name: "sparrow", rpcauth: FOREIGN }]);
    const conf = join(n.root, "srv/legacy/bitcoin/bitcoin.conf");
    const lnd = join(n.root, "var/lib/containers/storage/volumes/lnd-legacy/_data/lnd.conf");
    expect(r.not_carried.map((x) => `${x.file === conf ? "bitcoin.conf" : x.file === lnd ? "lnd.conf" : x.file}:${x.line}: ${x.key} (${x.why})`)).toEqual([
      "bitcoin.conf:3: server (the generated bitcoin.conf sets it)",
      `bitcoin.conf:9: rpcauth (user "lnd" is a catalog app's: its rpcauth line is generated)`,
      "bitcoin.conf:10: mystery (not a setting archy-quadlet carries over)",
      "bitcoin.conf:12: [signet] prune (for the signet network, not this node's (testnet))",
      "lnd.conf:2: [Application Options] alias (not a setting archy-quadlet carries over)",
      "lnd.conf:7: [Bitcoin] bitcoin.node (the generated lnd.conf sets it)",
    ]);
    expect(r.secrets).toEqual(["rpc-user-dashboard", "app-lnd-wallet-password"]);
    // The password is nowhere in the report (JSON or text) or the diff.
    expect(JSON.stringify(r)).not.toContain(LEGACY_PW);
    expect(text(r, false)).not.toContain(LEGACY_PW);
    expect(r.diff).toContain("+  bitcoin_network: testnet # default");
  });

  it("on the node after adopt and apply (captured): the units' containers are never adopted again; only the old electrumx is left", async () => {
    const n = node({ ps: fixture("ps-adopted.json"), inspect: fixture("inspect-adopted.json"), selection: WITH_ELECTRUMX });
    const r = await adopt(n.adapter, n.opts());
    expect(r.matched.map((m) => `${m.container}←${m.legacy} by ${m.by} (${m.state})`)).toEqual(["electrumx←electrumx-old by image (exited)"]);
    expect(r.storage).toEqual({ electrumx: { db: "/srv/legacy/electrumx" } });
    expect(r.unmapped_mounts).toEqual([]);
  });

  it("on a node without containers: an empty proposal, nothing written", async () => {
    const n = node({ ps: "[]\n" });
    const r = await adopt(n.adapter, n.opts({ write: true }));
    expect(r.matched).toEqual([]);
    expect(r.storage).toEqual({});
    expect(r.notes).toContain("no existing containers on this node: nothing to adopt");
    expect(r.written).toBe(false);
    expect(text(r, true)).toContain("no existing container matches the selection: empty proposal");
  });
});

describe("adopt --write", () => {
  it("updates the selection keeping comments, moves the rpcpassword and the wallet password into the store (0600); apply's compile authenticates the old password", async () => {
    const n = node();
    const r = await adopt(n.adapter, n.opts({ write: true }));
    expect(r.written).toBe(true);
    const sel = readFileSync(n.select, "utf8");
    expect(sel).toMatchInlineSnapshot(`
      "# my node
      apps: [bitcoin-knots, lnd] # what runs
      settings:
        bitcoin_network: testnet # default
      storage:
        bitcoin-knots:
          data: /srv/legacy/bitcoin
        lnd:
          data: volume:lnd-legacy
      rpc_users:
        - {name: dashboard, secret: true}
        - {name: sparrow, rpcauth: sparrow:5ad1b7c1c0ffee0123456789abcdef01$cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc}
      app_settings:
        bitcoin-knots:
          prune: 550
          dbcache: 1024
          maxconnections: 20
          txindex: false
      "
    `);
    expect(statSync(n.select).mode & 0o777).toBe(0o640);
    expect(sel).not.toContain(LEGACY_PW);
    const stored = join(n.secrets, "rpc-user-dashboard");
    expect(readFileSync(stored, "utf8")).toBe(`${LEGACY_PW}\n`);
    expect(statSync(stored).mode & 0o777).toBe(0o600);
    expect(statSync(n.secrets).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(n.secrets, "app-lnd-wallet-password"), "utf8")).toBe("lnd-wallet-pw\n");
    // What apply compiles from it: the old password authenticates against the generated line.
    const c = compile({ manifests: MANIFESTS, select: n.select, secrets: new SecretStore(n.secrets) });
    expect(c.diagnostics).toEqual([]);
    const conf = c.files.find((f) => f.path === "etc/archy/bitcoin-knots/bitcoin.conf")!.content.toString();
    const m = /^rpcauth=dashboard:([0-9a-f]{32})\$([0-9a-f]{64})$/m.exec(conf)!;
    expect(rpcauthHash(m[1]!, LEGACY_PW)).toBe(m[2]);
    expect(conf).toContain(`rpcauth=${FOREIGN}\n`);
    expect(conf).toMatch(/^chain=test$/m);
    expect(c.files.map((f) => f.content.toString()).join("\n")).not.toContain(LEGACY_PW);
    const units = (name: string) => c.files.find((f) => f.path === `etc/containers/systemd/archy/${name}.container`)!.content.toString();
    expect(units("bitcoin-knots")).toContain("Volume=/srv/legacy/bitcoin:/data:rw");
    expect(units("lnd")).toContain("Volume=lnd-legacy:/data:rw");
    // The wallet-password file lnd unlocks with carries the adopted password.
    expect(c.files.find((f) => f.path === "etc/archy/lnd/wallet-password")?.content.toString()).toBe("lnd-wallet-pw");
    // A second run finds nothing new to write.
    const again = await adopt(n.adapter, n.opts({ write: true }));
    expect(again.written).toBe(false);
    expect(readFileSync(n.select, "utf8")).toBe(sel);
  });

  it("keeps a store secret that already exists", async () => {
    const n = node();
    mkdirSync(n.secrets, { mode: 0o700 });
    writeFileSync(join(n.secrets, "rpc-user-dashboard"), "already-there\n", { mode: 0o600 });
    const r = await adopt(n.adapter, n.opts({ write: true }));
    expect(r.notes).toContain("the store already has rpc-user-dashboard: kept it");
    expect(readFileSync(join(n.secrets, "rpc-user-dashboard"), "utf8")).toBe("already-there\n");
  });
});

describe("adopt refuses, writing nothing", () => {
  async function refusal(n: Node): Promise<Failure> {
    const before = readFileSync(n.select, "utf8");
    const e = await adopt(n.adapter, n.opts({ write: true })).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(Failure);
    expect(readFileSync(n.select, "utf8")).toBe(before);
    expect(() => statSync(n.secrets)).toThrow();
    return e as Failure;
  }

  it("a mount source that no longer exists (exit 3)", async () => {
    const n = node({ selection: WITH_ELECTRUMX, bitcoinConf: "chain=test\ntxindex=1\n" });
    rmSync(join(n.root, "srv/legacy/electrumx"), { recursive: true });
    const e = await refusal(n);
    expect(e.kind).toBe("failed");
    expect(e.message).toContain(`app electrumx's "db": the mount source /srv/legacy/electrumx no longer exists`);
  });

  it("a named volume that is missing (exit 3)", async () => {
    const e = await refusal(node({ volumes: {} }));
    expect(e.kind).toBe("failed");
    expect(e.message).toContain(`the named volume "lnd-legacy" does not exist`);
  });

  it("a carried setting the selection's other apps cannot run with: the compile's diagnostic, against the selection (exit 2)", async () => {
    const e = (await refusal(node({ selection: WITH_ELECTRUMX }))) as UserError;
    expect(e).toBeInstanceOf(UserError);
    expect(e.diagnostics.some((d) => d.file.endsWith("node.yaml (as adopt would write it)") && /prune/.test(d.message))).toBe(true);
  });

  it("two existing containers matching one manifest container (exit 2)", async () => {
    const e = await refusal(node({ selection: WITH_ELECTRUMX, ps: fixture("ps-ambiguous.json"), inspect: fixture("inspect-ambiguous.json") }));
    expect(e.kind).toBe("invalid");
    expect(e.message).toContain(`container "electrumx" (app electrumx) matches 2 existing containers by image localhost/standin/lukechilds/electrumx: "electrumx-a", "electrumx-b"`);
  });

  it("two apps claiming one path (exit 2)", async () => {
    const e = await refusal(node({ selection: "apps: [bitcoin-knots, lnd]\nstorage:\n  lnd: { macaroons: /srv/legacy/bitcoin }\n" }));
    expect(e.kind).toBe("invalid");
    expect(e.message).toContain(`storage.bitcoin-knots.data: "/srv/legacy/bitcoin" is already mapped for app "lnd" source "macaroons"`);
  });

  it("includeconf=, duplicate keys and invalid UTF-8 in the legacy bitcoin.conf: file:line diagnostics", async () => {
    const conf = "srv/legacy/bitcoin/bitcoin.conf";
    const e1 = (await refusal(node({ bitcoinConf: "prune=550\nincludeconf=extra.conf\n" }))) as UserError;
    expect(e1).toBeInstanceOf(UserError);
    expect(e1.diagnostics.map((d) => `${d.file.endsWith(conf)}:${d.line}: ${d.message}`)).toEqual([
      `true:2: includeconf=extra.conf: included files are not read by adopt; merge "extra.conf" into this file first, or pass the file that holds the settings with --bitcoin-conf`,
    ]);
    const e2 = (await refusal(node({ bitcoinConf: "dbcache=100\nprune=550\ndbcache=200\n" }))) as UserError;
    expect(e2.diagnostics.map((d) => `${d.line}: ${d.message}`)).toEqual([`3: "dbcache" is set twice (also line 1); keep one`]);
    const e3 = (await refusal(node({ bitcoinConf: Buffer.from("prune=550\nuacomment=caf\xe9\n", "latin1") }))) as UserError;
    expect(e3.diagnostics.map((d) => `${d.line}: ${d.message}`)).toEqual(["2: file is not valid UTF-8"]);
  });

  it("an unreadable legacy config (exit 2, names the file): adopt run by a user who cannot read it", async () => {
    const n = node();
    const conf = join(n.root, "srv/legacy/bitcoin/bitcoin.conf");
    chmodSync(conf, 0o000);
    const before = readFileSync(n.select, "utf8");
    let got: { kind?: string; message?: string; uid?: number };
    if (process.getuid?.() === 0) {
      // Root reads any file: run the same adopt as an unprivileged uid (the node's admin without sudo).
      const dir = dirname(n.root);
      execFileSync("chown", ["-R", "65534:65534", dir]);
      const arg = JSON.stringify({ opts: n.opts({ write: true }), ps: join(FIX, "ps.json"), inspect: join(FIX, "inspect.json"), volumes: { "lnd-legacy": join(FIX, "volume-lnd-legacy.json") } });
      const hbs = pathToFileURL(join(import.meta.dirname, "..", "..", "scripts", "hbs-register.mjs")).href;
      const child = join(import.meta.dirname, "adopt-as-user.child.ts");
      const stdout = execFileSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--import", "tsx", "--import", hbs, child, arg], {
        cwd: join(import.meta.dirname, "..", ".."),
        env: { ...process.env, HOME: dir },
        encoding: "utf8",
      });
      got = JSON.parse(stdout);
      expect(got.uid).toBe(65534);
    } else {
      const e = await adopt(n.adapter, n.opts({ write: true })).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(UserError);
      got = { kind: (e as UserError).kind, message: (e as UserError).message };
    }
    expect(got.kind).toBe("invalid");
    expect(got.message).toContain(`${conf}: error: cannot read: permission denied (run adopt as root)`);
    expect(readFileSync(n.select, "utf8")).toBe(before);
    expect(() => statSync(n.secrets)).toThrow();
  });
});
