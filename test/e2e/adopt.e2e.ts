// Adopting an existing node (issue 13, docs/adopt.md) on the booted trixie guest: the old
// orchestrator's containers started with plain `podman run` (stand-in images) on a legacy
// bind-mounted dir and a named volume, its reconcile-containers.service running; then
// `adopt --write`, `apply` (the first generation: it takes over), and `rollback` past it.
// Every assertion asks podman, systemd or the file system inside the guest.
//
// It also captures the podman 5.4 JSON the adopt unit tests read
// (test/adopt/fixtures/podman-5.4): always into test/e2e/artifacts/adopt-fixtures/, and into
// the fixtures directory itself with CAPTURE_FIXTURES=1. Without it the committed fixtures
// must still have the fields and shapes podman prints now (checked here).
//
//   CI=true QUADLET_BIN=$(scripts/fetch-quadlet.sh) [CAPTURE_FIXTURES=1] \
//     npx vitest run --config vitest.e2e.config.ts test/e2e/adopt.e2e.ts
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rpcauthHash } from "../../src/configs/rpcauth.js";
import { shellQuote } from "./harness/machine.js";
import { ARTIFACTS, bootedGuest, catalogApp, isActive, MANIFESTS, SELECTION, stage, waitFor } from "./node-kit.js";
import { standinRef } from "./overlay.js";
import { buildStandins } from "./standins/images.js";

const CAPTURED = join(ARTIFACTS, "adopt-fixtures");
const FIXTURES = join(import.meta.dirname, "../adopt/fixtures/podman-5.4");
const CAPTURE = process.env.CAPTURE_FIXTURES === "1";

const APPS = ["bitcoin-knots", "lnd"];
const LEGACY_UNIT = "reconcile-containers.service";
const BTC_DIR = "/srv/legacy/bitcoin";
const MARKER = `${BTC_DIR}/blocks/marker`;
const PASSWORD = `legacy-${randomBytes(9).toString("hex")}`;
// A wallet's login the node's users set up by hand (rpcauth.py): carried as it is.
const SPARROW_PW = `sparrow-${randomBytes(6).toString("hex")}`;
const SPARROW_SALT = randomBytes(16).toString("hex");
const FOREIGN = `sparrow:${SPARROW_SALT}$${rpcauthHash(SPARROW_SALT, SPARROW_PW)}`;
const LEGACY_CONF = `# written by the old orchestrator
chain=signet
server=1
prune=550
rpcuser=dashboard
rpcpassword=${PASSWORD}
rpcauth=${FOREIGN}
`;

const { machine } = bootedGuest("adopt");
const sh = async (cmd: string, timeoutMs = 180_000) => (await machine().exec(cmd, { timeoutMs })).stdout;
const shTry = (cmd: string, timeoutMs = 180_000) => machine().exec(cmd, { timeoutMs, allowFail: true });
const cli = (args: string, timeoutMs = 900_000) => shTry(`archy-quadlet ${args}`, timeoutMs);

/** sha256 and inode of a file, as `sha256sum`/`stat` print them (inside a container with `in`). */
async function identity(path: string, inContainer?: string): Promise<{ sha256: string; inode: string }> {
  const pre = inContainer ? `podman exec ${inContainer} ` : "";
  const sha256 = (await sh(`${pre}sha256sum ${path}`)).split(/\s+/)[0]!;
  const inode = (await sh(`${pre}stat -c %i ${path}`)).trim();
  return { sha256, inode };
}

let lndMarker = "";
/** The legacy containers' ids: quadlet's --replace must remove exactly these. */
const legacyIds: Record<string, string> = {};
let before: { btc: { sha256: string; inode: string }; lnd: { sha256: string; inode: string } };

/** podman's JSON for the fixtures: written to the artifacts, and to the fixtures with CAPTURE_FIXTURES=1. */
async function capture(files: Record<string, string>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  mkdirSync(CAPTURED, { recursive: true });
  if (CAPTURE) mkdirSync(FIXTURES, { recursive: true });
  for (const [name, cmd] of Object.entries(files)) {
    const text = await sh(cmd);
    const json = JSON.parse(text) as unknown;
    const pretty = JSON.stringify(json, null, 2) + "\n";
    writeFileSync(join(CAPTURED, name), pretty);
    if (CAPTURE) writeFileSync(join(FIXTURES, name), pretty);
    out[name] = json;
  }
  return out;
}

/** Every key path of a JSON value with the type found there (array items merged): podman's shape, not its values. */
function shape(v: unknown, path = "", out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) {
    for (const x of v) shape(x, `${path}[]`, out);
  } else if (v && typeof v === "object") {
    out.add(`${path}:object`);
    // Labels, Annotations and Env are maps of arbitrary names: their type, not their keys.
    if (/\.(Labels|Annotations|Options)$/.test(path)) return out;
    for (const [k, x] of Object.entries(v)) shape(x, `${path}.${k}`, out);
  } else out.add(`${path}:${v === null ? "null" : typeof v}`);
  return out;
}

/** The committed fixture has every field (and type) the fresh capture has that adopt reads, and nothing podman no longer prints. */
function sameShape(name: string, fresh: unknown): void {
  if (CAPTURE) return; // just written from `fresh`
  const committed = JSON.parse(readFileSync(join(FIXTURES, name), "utf8")) as unknown;
  const a = [...shape(fresh)].filter((p) => !p.endsWith(":null"));
  const b = new Set([...shape(committed)].filter((p) => !p.endsWith(":null")));
  expect(a.filter((p) => !b.has(p)), `${name}: fields podman 5.4 prints that the committed fixture lacks (re-capture with CAPTURE_FIXTURES=1)`).toEqual([]);
}

describe("adopting a node the old orchestrator set up (podman 5.4, systemd 257)", () => {
  it("a. the legacy node: containers from plain `podman run`, a bind-mounted dir and a named volume, its reconcile unit running", async () => {
    // The release's manifests and selection where the node keeps them, and the stand-in images.
    await stage(machine(), { apps: APPS });
    const knots = standinRef(catalogApp("bitcoin-knots").containers["bitcoin-knots"]!.image!);
    const lnd = standinRef(catalogApp("lnd").containers.lnd!.image!);
    const electrumxUpstream = catalogApp("electrumx").containers.electrumx!.image!;
    const electrumx = standinRef(electrumxUpstream);
    await buildStandins(machine(), [{ ref: electrumx, upstream: electrumxUpstream }]);

    // The legacy data: a 1 MiB marker and the old bitcoin.conf; a named volume with lnd's marker.
    await sh(`mkdir -p ${BTC_DIR}/blocks /srv/legacy/bitcoin-backup /srv/legacy/electrumx && head -c 1048576 /dev/urandom > ${MARKER}`);
    await machine().writeFile(`${BTC_DIR}/bitcoin.conf`, LEGACY_CONF, 0o600);
    await sh("podman volume create lnd-legacy");
    const vol = (await sh("podman volume inspect lnd-legacy --format '{{.Mountpoint}}'")).trim();
    expect(vol).toBe("/var/lib/containers/storage/volumes/lnd-legacy/_data");
    lndMarker = `${vol}/marker`;
    await sh(`head -c 65536 /dev/urandom > ${lndMarker}`);

    // The old orchestrator's containers: plain podman run, no labels, no units.
    const run = (args: string) => sh(`podman run ${args}`);
    await run(`-d --name bitcoin-knots -v ${BTC_DIR}:/data -v /srv/legacy/bitcoin-backup:/backup --entrypoint /bin/sleep ${knots} 1000000`);
    await run(`-d --name lnd -v lnd-legacy:/data --entrypoint /bin/sleep ${lnd} 1000000`);
    // Renamed by hand long ago (matched by image) and stopped.
    await run(`--name electrumx-old -v /srv/legacy/electrumx:/data --entrypoint /bin/true ${electrumx}`);
    // Something else entirely: matches nothing.
    await run(`-d --name random --entrypoint /bin/sleep localhost/standin/base-node:1 1000000`);
    await machine().writeFile(
      `/etc/systemd/system/${LEGACY_UNIT}`,
      "[Unit]\nDescription=the old orchestrator's container reconciler\n[Service]\nExecStart=/bin/sh -c 'while :; do sleep 5; done'\n[Install]\nWantedBy=multi-user.target\n",
    );
    await sh(`systemctl daemon-reload && systemctl enable --now ${LEGACY_UNIT}`);
    expect(await isActive(machine(), LEGACY_UNIT)).toBe("active");
    before = { btc: await identity(MARKER), lnd: await identity(lndMarker) };
    for (const n of ["bitcoin-knots", "lnd"]) legacyIds[n] = (await sh(`podman inspect ${n} --format '{{.Id}}'`)).trim();
    expect(before.btc.sha256).toBe(await identity(`/data/blocks/marker`, "bitcoin-knots").then((x) => x.sha256));

    // podman 5.4's own JSON of this node: the adopt unit tests' fixtures.
    const ids = "$(podman ps -aq --no-trunc | sort)";
    const got = await capture({
      "ps.json": "podman ps -a --format json",
      "inspect.json": `podman container inspect ${ids}`,
      "volume-lnd-legacy.json": "podman volume inspect lnd-legacy",
    });
    for (const [n, v] of Object.entries(got)) sameShape(n, v);
    const missing = await shTry("podman volume inspect lnd-gone");
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/no such volume lnd-gone/);
    // Two renamed containers of one image: which one is electrumx's is ambiguous.
    await sh(`podman rename electrumx-old electrumx-a && mkdir -p /srv/legacy/electrumx-b && podman run --name electrumx-b -v /srv/legacy/electrumx-b:/data --entrypoint /bin/true ${electrumx}`);
    const amb = await capture({ "ps-ambiguous.json": "podman ps -a --format json", "inspect-ambiguous.json": `podman container inspect ${ids}` });
    for (const [n, v] of Object.entries(amb)) sameShape(n, v);
    await sh("podman rm electrumx-b && podman rename electrumx-a electrumx-old");
  });

  it("b. adopt proposes the node's own data and logins; --write puts them in the selection and the password in the store", async () => {
    const dry = await cli(`adopt --manifests ${MANIFESTS} --select ${SELECTION} --json`);
    expect(dry.code, dry.stderr).toBe(0);
    const r = JSON.parse(dry.stdout);
    expect(r.matched.map((x: { container: string; legacy: string; by: string; state: string }) => `${x.container}←${x.legacy} by ${x.by} (${x.state})`)).toEqual([
      "bitcoin-knots←bitcoin-knots by name (running)",
      "lnd←lnd by name (running)",
    ]);
    expect(r.storage).toEqual({ "bitcoin-knots": { data: BTC_DIR }, lnd: { data: "volume:lnd-legacy" } });
    expect(r.unmapped_mounts).toEqual([{ legacy: "bitcoin-knots", type: "bind", source: "/srv/legacy/bitcoin-backup", destination: "/backup", why: `"bitcoin-knots" mounts nothing at /backup` }]);
    expect(r.settings).toEqual({ bitcoin_network: "signet", app_settings: { "bitcoin-knots": { prune: 550, txindex: false } } });
    expect(r.rpc_users).toEqual([{ name: "dashboard", secret: true }, { name: "sparrow", rpcauth: FOREIGN }]);
    expect(r.written).toBe(false);
    expect(dry.stdout).not.toContain(PASSWORD);
    const selBefore = await sh(`cat ${SELECTION}`);
    expect(selBefore).not.toContain("storage");

    const w = await cli(`adopt --manifests ${MANIFESTS} --select ${SELECTION} --write`);
    expect(w.code, w.stdout + w.stderr).toBe(0);
    expect(w.stdout).toContain("selection written; next: archy-quadlet apply");
    expect(w.stdout + w.stderr).not.toContain(PASSWORD);
    const sel = await sh(`cat ${SELECTION}`);
    expect(sel).toContain(`bitcoin_network: signet`);
    expect(sel).toMatch(/storage:\n {2}bitcoin-knots:\n {4}data: \/srv\/legacy\/bitcoin\n {2}lnd:\n {4}data: volume:lnd-legacy\n/);
    expect(sel).not.toContain(PASSWORD);
    expect(await sh("stat -c '%a %s' /var/lib/archy/secrets/rpc-user-dashboard")).toBe(`600 ${PASSWORD.length + 1}\n`);
  });

  it("c. apply: the units replace the legacy containers on the same data, the old unit is stopped and disabled, the old logins work", async () => {
    const a = await cli(`apply --manifests ${MANIFESTS} --select ${SELECTION}`);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(a.stdout + a.stderr).toContain(`taking over from the old system: systemctl disable --now ${LEGACY_UNIT}`);
    expect(a.stdout + a.stderr).toContain("bitcoin-knots: replacing the existing container; its mounts /srv/legacy/bitcoin-backup at /backup are not mounted by bitcoin-knots.service");
    await waitFor("bitcoin-knots.service and lnd.service active", async () => (await isActive(machine(), "bitcoin-knots.service")) === "active" && (await isActive(machine(), "lnd.service")) === "active", 300_000);
    expect(await isActive(machine(), LEGACY_UNIT)).toBe("inactive");
    expect((await shTry(`systemctl is-enabled ${LEGACY_UNIT}`)).stdout.trim()).toBe("disabled");

    // The containers now run under systemd, mounting the legacy dir and the named volume in place.
    for (const [name, mount] of [
      ["bitcoin-knots", { Type: "bind", Source: BTC_DIR, Destination: "/data" }],
      ["lnd", { Type: "volume", Name: "lnd-legacy", Destination: "/data" }],
    ] as const) {
      const c = JSON.parse(await sh(`podman container inspect ${name}`))[0];
      expect(c.Config.Labels.PODMAN_SYSTEMD_UNIT, name).toBe(`${name}.service`);
      // The legacy container of that name was replaced (quadlet's --replace), not renamed or kept.
      expect(c.Id, name).not.toBe(legacyIds[name]);
      expect((await shTry(`podman container exists ${legacyIds[name]}`)).code, name).toBe(1);
      expect(c.State.Running, name).toBe(true);
      expect(c.Mounts.find((x: { Destination: string }) => x.Destination === "/data"), name).toMatchObject(mount);
      expect(c.Mounts.map((x: { Destination: string }) => x.Destination), name).not.toContain("/backup");
    }
    // Same file (inode) inside and outside, the same bytes as before.
    expect(await identity("/data/blocks/marker", "bitcoin-knots")).toEqual(before.btc);
    expect(await identity(MARKER)).toEqual(before.btc);
    expect(await identity("/data/marker", "lnd")).toEqual(before.lnd);
    expect(await identity(lndMarker)).toEqual(before.lnd);

    // The generated bitcoin.conf: the node's network, the foreign rpcauth line as it was, an rpcauth line for the old rpcuser.
    const conf = await sh("cat /etc/archy/bitcoin-knots/bitcoin.conf");
    expect(await sh("podman exec bitcoin-knots cat /etc/bitcoin/bitcoin.conf")).toBe(conf);
    expect(conf).toMatch(/^chain=signet$/m);
    expect(conf).toMatch(/^prune=550$/m);
    expect(conf).toContain(`\nrpcauth=${FOREIGN}\n`);
    const line = /^rpcauth=dashboard:([0-9a-f]{32})\$([0-9a-f]{64})$/m.exec(conf);
    expect(line, conf).not.toBeNull();
    expect(rpcauthHash(line![1]!, PASSWORD)).toBe(line![2]);
    expect(conf).not.toContain(PASSWORD);
    expect(conf).not.toMatch(/^rpc(user|password)=/m);
    // A JSON-RPC request with HTTP basic auth, as the dashboard and the wallet make it, to the
    // bitcoind stand-in, which checks rpcauth lines with HMAC-SHA256.
    const rpc = (user: string, pw: string) => shTry(`podman exec bitcoin-knots bitcoin-cli -conf=/etc/bitcoin/bitcoin.conf -rpcuser=${user} -rpcpassword=${shellQuote(pw)} getblockchaininfo`);
    await waitFor("bitcoind's RPC answering the old login", async () => (await rpc("dashboard", PASSWORD)).code === 0, 120_000);
    const ok = await rpc("dashboard", PASSWORD);
    expect(JSON.parse(ok.stdout).chain).toBe("signet");
    expect((await rpc("sparrow", SPARROW_PW)).code).toBe(0);
    const wrong = await rpc("dashboard", `${PASSWORD}x`);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/HTTP 401/);

    // After the takeover adopt finds only containers of ours: nothing left to adopt (captured too).
    const after = await capture({ "ps-adopted.json": "podman ps -a --format json", "inspect-adopted.json": "podman container inspect $(podman ps -aq --no-trunc | sort)" });
    for (const [n, v] of Object.entries(after)) sameShape(n, v);
    const again = await cli(`adopt --manifests ${MANIFESTS} --select ${SELECTION} --json`);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ matched: [], storage: {}, written: false });
  });

  it("d. rollback past the first generation: ours stop, the old unit is enabled and running again, the data never changed", async () => {
    const r = await cli("rollback");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain(`systemctl enable --now ${LEGACY_UNIT}`);
    expect(await isActive(machine(), LEGACY_UNIT)).toBe("active");
    expect((await shTry(`systemctl is-enabled ${LEGACY_UNIT}`)).stdout.trim()).toBe("enabled");
    for (const u of ["bitcoin-knots.service", "lnd.service"]) expect(await isActive(machine(), u), u).not.toBe("active");
    // Stopping the units removed their containers: the names are free for the old system again.
    const names = (await sh("podman ps -a --format '{{.Names}}'")).trim().split("\n");
    expect(names.sort()).toEqual(["electrumx-old", "random"]);
    const gens = JSON.parse(await sh("archy-quadlet generations --json")).generations;
    expect(gens.find((g: { current: boolean }) => g.current).id).toBe(0);
    expect(await identity(MARKER)).toEqual(before.btc);
    expect(await identity(lndMarker)).toEqual(before.lnd);
    expect(await sh(`cat ${BTC_DIR}/bitcoin.conf`)).toBe(LEGACY_CONF);
    expect((await sh("podman volume ls --format '{{.Name}}'")).split("\n")).toContain("lnd-legacy");
  });
});
