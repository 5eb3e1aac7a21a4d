// What apply restarts on a running node (issue 15), with the recording fake and the
// real catalog: installing an app starts only its services, removing one stops only
// its services, a bitcoind setting restarts only bitcoind. Together with the units'
// Wants=/After= (no Requires=: systemd propagates nothing back to dependents) this is
// everything that restarts.
import { afterEach, describe, expect, it } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apply } from "../../src/apply/apply.js";
import { rpcauthLine } from "../../src/configs/rpcauth.js";
import { REPO, activeView, cleanup, inputs, show, testEnv, workspace, type Workspace } from "./helpers.js";

afterEach(cleanup);

const NODE = readFileSync(join(REPO, "examples/node.yaml"), "utf8");
const UNITS = "etc/containers/systemd/archy";

/** examples/node.yaml with `add` appended to its apps and `extra` appended to the file. */
function selection(ws: Workspace, name: string, add: string[] = [], extra = ""): string {
  const p = join(ws.dir, `${name}.yaml`);
  const text = NODE.replace(/^apps:\n((?: {2}- \S+\n)+)/m, (_, list: string) => `apps:\n${list}${add.map((a) => `  - ${a}\n`).join("")}`);
  if (add.length) expect(text).not.toBe(NODE);
  writeFileSync(p, text + extra);
  return p;
}

/** The node running examples/node.yaml (generation 1), and an apply of `select` on it: its systemctl calls. */
async function onRunningNode(ws: Workspace, first: string, next: string) {
  const env0 = testEnv(ws);
  const r0 = await apply(env0, inputs(ws, { select: first }));
  expect(r0.failures).toEqual([]);
  // The first apply starts every service, bitcoind among them: the fake works.
  expect(show(env0.adapter.calls)).toContain("systemctl start bitcoin-knots.service");
  const env = testEnv(ws);
  const r = await apply(env, inputs(ws, { select: next }));
  expect(r.failures).toEqual([]);
  expect(r.generation).toBe(2);
  return { r, systemctl: show(env.adapter.calls.filter((c) => c.cmd === "systemctl")) };
}

describe("restarts on a running node (real catalog, examples/node.yaml)", () => {
  it("adding btc-rpc-explorer: daemon-reload and its start, nothing else", async () => {
    const ws = workspace(join(REPO, "manifests"));
    const { r, systemctl } = await onRunningNode(ws, selection(ws, "node"), selection(ws, "plus", ["btc-rpc-explorer"]));
    expect(systemctl).toEqual(["systemctl daemon-reload", "systemctl start btc-rpc-explorer.service"]);
    // bitcoind's config and unit are byte-identical: its rpcauth line was there already.
    expect(r.plan.changed.filter((p) => p.includes("bitcoin-knots"))).toEqual([]);
    // And no unit of the new generation has a Requires= that would propagate a provider's restart.
    const unit = readFileSync(join(ws.root, UNITS, "btc-rpc-explorer.container"), "utf8");
    expect(unit).toMatch(/^Wants=bitcoin-knots\.service$/m);
    expect(unit).toMatch(/^After=bitcoin-knots\.service$/m);
    expect(unit).toMatch(/^ExecStartPre=\/usr\/bin\/systemctl is-active --quiet bitcoin-knots\.service$/m);
    expect(unit).not.toMatch(/^Requi(res|site)=/m);
    // Its password was in the store since the first apply (bitcoin.conf's rpcauth line comes
    // from it), handed to no container until now; the explorer gets exactly that one.
    const pass = readFileSync(join(ws.secrets, "rpc-btc-rpc-explorer"), "utf8").trim();
    expect(pass).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(join(ws.root, "etc/archy/btc-rpc-explorer/bitcoin-rpc-btc-rpc-explorer.env"), "utf8")).toContain(`BTCEXP_BITCOIND_PASS=${pass}\n`);
    expect(readFileSync(join(ws.root, "etc/archy/bitcoin-knots/bitcoin.conf"), "utf8")).toContain(`${rpcauthLine("btc-rpc-explorer", pass)}\n`);
  });

  it("before its app is installed, a consumer's secret exists in the store only", async () => {
    const ws = workspace(join(REPO, "manifests"));
    const r = await apply(testEnv(ws), inputs(ws, { select: selection(ws, "node") }));
    expect(r.failures).toEqual([]);
    const pass = readFileSync(join(ws.secrets, "rpc-btc-rpc-explorer"), "utf8").trim();
    expect(pass).toMatch(/^[0-9a-f]{64}$/);
    const files = [...activeView(ws.root)];
    expect(files.filter(([, f]) => f.content.toString("utf8").includes(pass)).map(([p]) => p)).toEqual([]);
    // bitcoind already accepts it: the line is derived from the password (salted hash only).
    expect(readFileSync(join(ws.root, "etc/archy/bitcoin-knots/bitcoin.conf"), "utf8")).toContain(rpcauthLine("btc-rpc-explorer", pass));
  });

  it("removing btc-rpc-explorer: its stop and daemon-reload, nothing else", async () => {
    const ws = workspace(join(REPO, "manifests"));
    const { systemctl } = await onRunningNode(ws, selection(ws, "plus", ["btc-rpc-explorer"]), selection(ws, "node"));
    expect(systemctl).toEqual(["systemctl stop btc-rpc-explorer.service", "systemctl daemon-reload"]);
  });

  it("a dbcache change (app_settings.bitcoin.dbcache): only bitcoind restarts", async () => {
    const ws = workspace(join(REPO, "manifests"));
    const { r, systemctl } = await onRunningNode(ws, selection(ws, "node"), selection(ws, "dbcache", [], "app_settings:\n  bitcoin: { dbcache: 2048 }\n"));
    expect(systemctl).toEqual(["systemctl daemon-reload", "systemctl restart bitcoin-knots.service"]);
    expect(r.plan.changed).toEqual(["etc/archy/bitcoin-knots/bitcoin.conf", `${UNITS}/bitcoin-knots.container`]);
    expect(readFileSync(join(ws.root, "etc/archy/bitcoin-knots/bitcoin.conf"), "utf8")).toMatch(/^dbcache=2048$/m);
    // Its dependents keep running: none of them names it in Requires=.
    const lnd = readFileSync(join(ws.root, UNITS, "lnd.container"), "utf8");
    expect(lnd).toMatch(/^Wants=bitcoin-knots\.service$/m);
    expect(lnd).not.toMatch(/^Requi(res|site)=/m);
  });
});
