// Installing or removing an app changes only that app's own files (issue 15): the
// real catalog, examples/node.yaml with each catalog app added, and with each app
// nothing else needs removed. bitcoin.conf lists every catalog consumer's rpcauth
// line, so the bitcoin provider's config (and unit, through its config hash) stays
// byte-identical; the compile is what `apply` plans its restarts from.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../src/plan/inputs.js";
import { ReviewSecrets } from "../../src/configs/secrets.js";
import { readManifestDir } from "../../src/manifest/read.js";
import { cleanup, tempDir } from "../helpers/cli.js";
import { REPO } from "../helpers/quadlet.js";

const MANIFESTS = join(REPO, "manifests");
const NODE = readFileSync(join(REPO, "examples/node.yaml"), "utf8");
const SELECTED = [...NODE.matchAll(/^ {2}- (\S+)$/gm)].map((m) => m[1]!);
const CATALOG = readManifestDir(MANIFESTS, []).map((a) => a.app);

/** Files that may change with any install or removal (see `allowed`). */
const HEAL = "etc/systemd/system/archy-quadlet-podman-heal.service";
const TORRC = ["etc/archy/tor/torrc", "etc/containers/systemd/archy/tor.container"];

// Test cases are made per catalog app when the file loads, so the directory is made then too.
const tmp = tempDir();
afterAll(() => cleanup(tmp));

let n = 0;
function build(apps: string[]) {
  const sel = join(tmp, `sel-${n++}.yaml`);
  writeFileSync(sel, NODE.replace(/^apps:\n(?: {2}- \S+\n)+/m, `apps:\n${apps.map((a) => `  - ${a}\n`).join("")}`));
  const r = compile({ manifests: MANIFESTS, select: sel, secrets: new ReviewSecrets() });
  return { r, files: new Map(r.files.map((f) => [f.path, Buffer.from(f.content).toString("base64")])) };
}

function changed(a: Map<string, string>, b: Map<string, string>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].filter((p) => a.get(p) !== b.get(p)).sort();
}

/** The app's own files: its derived configs, build contexts and units. */
function own(appId: string, containers: string[]): (p: string) => boolean {
  return (p) =>
    p.startsWith(`etc/archy/${appId}/`) ||
    containers.some((c) => p.startsWith(`etc/archy/build/${c}/`) || p === `etc/containers/systemd/archy/${c}.container` || p === `etc/containers/systemd/archy/${c}.build`);
}

/**
 * Besides its own files: the Podman heal hook's Before= list (a oneshot that ran at boot;
 * apply only reloads it, test/apply/restarts.test.ts) and, for an app with onion entries,
 * tor's torrc and so tor's unit (its config hash): tor restarts for the new onion service,
 * nothing else does.
 */
function allowed(appId: string): string[] {
  const app = CATALOG.find((a) => a.id === appId)!;
  const onion = Object.values(app.containers).some((c) => (c.onion ?? []).length > 0);
  return onion ? [HEAL, ...TORRC] : [HEAL];
}

const base = build(SELECTED);

describe("examples/node.yaml", () => {
  it("compiles", () => {
    expect(base.r.diagnostics).toEqual([]);
    expect(SELECTED).toContain("bitcoin-knots");
  });

  const addable = CATALOG.map((a) => a.id).filter((id) => !SELECTED.includes(id)).sort();
  for (const id of addable) {
    it(`adding ${id} changes only ${id}'s files (or is refused)`, () => {
      const next = build([...SELECTED, id]);
      // Role clashes and unmet dependencies are refused: nothing to compare.
      if (next.r.diagnostics.length > 0) {
        expect(next.r.files).toEqual([]);
        return;
      }
      const names = next.r.graph!.containers.filter((c) => c.app.id === id).map((c) => c.name);
      const diff = changed(base.files, next.files);
      expect(diff.filter((p) => !own(id, names)(p) && !allowed(id).includes(p))).toEqual([]);
      expect(diff.filter(own(id, names)).length).toBeGreaterThan(0);
    });
  }

  it("the measured case: adding btc-rpc-explorer leaves bitcoind's bitcoin.conf and unit byte-identical", () => {
    const next = build([...SELECTED, "btc-rpc-explorer"]);
    expect(next.r.diagnostics).toEqual([]);
    for (const p of ["etc/archy/bitcoin-knots/bitcoin.conf", "etc/containers/systemd/archy/bitcoin-knots.container"]) expect(next.files.get(p)).toBe(base.files.get(p));
    expect(changed(base.files, next.files)).toEqual([
      "etc/archy/btc-rpc-explorer/bitcoin-rpc-btc-rpc-explorer.env",
      "etc/containers/systemd/archy/btc-rpc-explorer.container",
      HEAL,
    ]);
    // Most apps of the catalog can be added to this node; each was compared above.
    expect(addable.filter((id) => build([...SELECTED, id]).r.diagnostics.length === 0).length).toBeGreaterThanOrEqual(10);
  });

  const removable = SELECTED.filter((id) => build(SELECTED.filter((x) => x !== id)).r.diagnostics.length === 0);
  it("some apps can be removed (nothing else needs them)", () => {
    expect(removable).toEqual(expect.arrayContaining(["mempool", "thunderhub", "netdata", "bitcoin-ui", "lnd-ui"]));
  });
  it("tor is the exception: removing it changes how bitcoind, lnd and every onion target reach the network", () => {
    // Real input changes of those containers (proxy and onion lines, IP= for onion targets, Wants=tor): they restart.
    const next = build(SELECTED.filter((x) => x !== "tor"));
    const names = base.r.graph!.containers.filter((c) => c.app.id === "tor").map((c) => c.name);
    expect(changed(base.files, next.files).filter((p) => !own("tor", names)(p) && p !== HEAL)).toEqual([
      "etc/archy/bitcoin-knots/bitcoin.conf",
      "etc/archy/lnd/lnd.conf",
      "etc/containers/systemd/archy/bitcoin-knots.container",
      "etc/containers/systemd/archy/electrumx.container",
      "etc/containers/systemd/archy/lnd.container",
      "etc/containers/systemd/archy/mempool-web.container",
      "etc/containers/systemd/archy/thunderhub.container",
    ]);
  });
  for (const id of removable.filter((x) => x !== "tor")) {
    it(`removing ${id} changes only ${id}'s files`, () => {
      const next = build(SELECTED.filter((x) => x !== id));
      const names = base.r.graph!.containers.filter((c) => c.app.id === id).map((c) => c.name);
      const diff = changed(base.files, next.files);
      expect(diff.filter((p) => !own(id, names)(p) && !allowed(id).includes(p))).toEqual([]);
      expect(diff.filter(own(id, names)).length).toBeGreaterThan(0);
    });
  }

  it("every catalog consumer of Bitcoin RPC has its rpcauth line, installed or not", () => {
    const conf = Buffer.from(base.files.get("etc/archy/bitcoin-knots/bitcoin.conf")!, "base64").toString("utf8");
    const users = [...conf.matchAll(/^rpcauth=([^:]+):/gm)].map((m) => m[1]);
    const consumers = CATALOG.filter((a) => a.bitcoin_rpc).map((a) => a.id).sort();
    expect(users).toEqual(consumers);
    expect(consumers.filter((c) => !SELECTED.includes(c)).length).toBeGreaterThan(3);
    // Handed to no container until installed: no derived file of an unselected consumer.
    for (const c of consumers.filter((x) => !SELECTED.includes(x))) expect([...base.files.keys()].filter((p) => p.startsWith(`etc/archy/${c}/`))).toEqual([]);
  });
});
