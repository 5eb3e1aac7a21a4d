// The pure apply plan (src/apply/plan.ts): from (active tree, next tree) to the
// exact systemctl/podman steps. Trees come from the real compiler run on the
// fixture catalog with fixed secrets, plus hand-made edits for cases manifests
// cannot express (a changed network unit, a config file changing alone).
import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import { cpSync, rmSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../../src/plan/inputs.js";
import type { SecretSource } from "../../src/configs/secrets.js";
import { computePlan, formatPlan, orderServices, type Step, type Tree } from "../../src/apply/plan.js";
import { toTree } from "../../src/apply/state.js";
import { FIXTURES, cleanup, edit, secretValue, workspace, type Workspace } from "./helpers.js";

afterEach(cleanup);

class FixedSecrets implements SecretSource {
  readonly real = false;
  readonly where = "test";
  constructor(private readonly salt: Record<string, string> = {}) {}
  get(name: string): string {
    return secretValue(name, this.salt[name] ?? "");
  }
  values(): string[] {
    return [];
  }
}

function tree(ws: Workspace, secrets: SecretSource = new FixedSecrets()): Tree {
  const r = compile({ manifests: ws.manifests, secrets });
  expect(r.diagnostics).toEqual([]);
  return toTree(r.files);
}

const steps = (s: Step[]) => s.map((x) => (x.action === "network-rm" ? `network-rm ${x.network}` : `${x.action} ${x.unit}`));

const UNITS = "etc/containers/systemd/archy";

function withFile(t: Tree, path: string, fn: (s: string) => string): Tree {
  const copy: Tree = new Map(t);
  const f = copy.get(path);
  if (!f) throw new Error(`no ${path} in tree`);
  copy.set(path, { ...f, content: Buffer.from(fn(f.content.toString("utf8"))) });
  return copy;
}

describe("computePlan", () => {
  it("no change: no files, no reload, no steps", () => {
    const ws = workspace();
    const a = tree(ws);
    const p = computePlan(a, tree(ws));
    expect(p).toEqual({ changed: [], daemonReload: false, steps: [], notes: [] });
    expect(formatPlan(p)).toBe("plan: nothing to do");
  });

  it("first install starts everything, dependencies before dependents", () => {
    const ws = workspace();
    const p = computePlan(new Map(), tree(ws));
    expect(p.daemonReload).toBe(true);
    expect(steps(p.steps)).toEqual([
      "start archy-quadlet-reconcile.path",
      "start archy-quadlet-reconcile.timer",
      "start btc.service",
      "start archy-ui.service",
      "start indexer.service",
      "start web.service",
      "start web-worker.service",
    ]);
  });

  it("changing one app's manifest restarts exactly its services, in dependency order", () => {
    const ws = workspace();
    const a = tree(ws);
    edit(ws, "web.yaml", (s) => s.replace('version: "1.0"', 'version: "1.1"'));
    const p = computePlan(a, tree(ws));
    expect(p.changed).toEqual([`${UNITS}/web-worker.container`, `${UNITS}/web.container`]);
    expect(p.daemonReload).toBe(true);
    expect(steps(p.steps)).toEqual(["restart web.service", "restart web-worker.service"]);
  });

  it("changing the provider's manifest restarts only the provider (dependents' units are unchanged)", () => {
    const ws = workspace();
    const a = tree(ws);
    edit(ws, "btc.yaml", (s) => s.replace("interval: 30s", "interval: 45s").replace('cmd: "true"', 'cmd: "true"\n      interval: 45s'));
    const p = computePlan(a, tree(ws));
    expect(p.changed).toEqual([`${UNITS}/btc.container`]);
    expect(steps(p.steps)).toEqual(["restart btc.service"]);
  });

  it("rotating one consumer's secret restarts exactly the consumers of the changed configs", () => {
    const ws = workspace();
    const a = tree(ws);
    const b = tree(ws, new FixedSecrets({ "rpc-ui": "rotated" }));
    const p = computePlan(a, b);
    // bitcoin.conf (the ui's rpcauth line) and the ui's own nginx.conf change; the indexer's env file does not.
    expect(p.changed).toEqual(["etc/archy/btc/bitcoin.conf", "etc/archy/ui/nginx.conf", `${UNITS}/archy-ui.container`, `${UNITS}/btc.container`]);
    expect(steps(p.steps)).toEqual(["restart btc.service", "restart archy-ui.service"]);
  });

  it("a derived config changing alone restarts exactly its consumer, without a daemon-reload", () => {
    const ws = workspace();
    const a = tree(ws);
    const b = withFile(a, "etc/archy/indexer/electrumx.env", (s) => `${s}# drift\n`);
    const p = computePlan(a, b);
    expect(p.changed).toEqual(["etc/archy/indexer/electrumx.env"]);
    expect(p.daemonReload).toBe(false);
    expect(p.steps).toEqual([{ action: "restart", unit: "indexer.service", why: "config changed: /etc/archy/indexer/electrumx.env" }]);
    // A mode change alone is a change too (secret-bearing files must stay 0600).
    const c: Tree = new Map(a);
    c.set("etc/archy/ui/nginx.conf", { ...a.get("etc/archy/ui/nginx.conf")!, mode: 0o644 });
    expect(steps(computePlan(a, c).steps)).toEqual(["restart archy-ui.service"]);
  });

  it("a build-context change restarts the built container", () => {
    const ws = workspace();
    const a = tree(ws);
    edit(ws, "build/ui/index.html", () => "<h1>ui v2</h1>\n");
    const p = computePlan(a, tree(ws));
    expect(p.changed).toEqual([
      "etc/archy/build/archy-ui/index.html",
      `${UNITS}/archy-ui.build`,
      `${UNITS}/archy-ui.container`,
    ]);
    expect(steps(p.steps)).toEqual(["restart archy-ui.service"]);
    // The context alone (units untouched) still restarts it; so does the .build unit alone.
    const ctxOnly = withFile(a, "etc/archy/build/archy-ui/index.html", () => "x\n");
    expect(steps(computePlan(a, ctxOnly).steps)).toEqual(["restart archy-ui.service"]);
    expect(computePlan(a, ctxOnly).daemonReload).toBe(false);
    const buildOnly = withFile(a, `${UNITS}/archy-ui.build`, (s) => s.replace("[Service]", "[Service]\nEnvironment=X=1"));
    expect(steps(computePlan(a, buildOnly).steps)).toEqual(["restart archy-ui.service"]);
  });

  it("removing an app stops its services, dependents first, and restarts the provider whose config lost a user", () => {
    const ws = workspace();
    const a = tree(ws);
    rmSync(join(ws.manifests, "web.yaml"));
    const p = computePlan(a, tree(ws));
    // The heal unit orders itself before every service, so it changes too: reload only. The
    // OTA check is ordered after the network and web stack only, so it does not change.
    const HOOKS = ["etc/systemd/system/archy-quadlet-podman-heal.service"];
    expect(p.changed).toEqual([`${UNITS}/web-worker.container`, `${UNITS}/web.container`, ...HOOKS]);
    expect(p.daemonReload).toBe(true);
    expect(steps(p.steps)).toEqual(["stop web-worker.service", "stop web.service"]);

    const ws2 = workspace();
    const a2 = tree(ws2);
    rmSync(join(ws2.manifests, "indexer.yaml"));
    const p2 = computePlan(a2, tree(ws2));
    expect(p2.changed).toEqual(["etc/archy/btc/bitcoin.conf", "etc/archy/indexer/electrumx.env", `${UNITS}/btc.container`, `${UNITS}/indexer.container`, ...HOOKS]);
    expect(steps(p2.steps)).toEqual(["stop indexer.service", "restart btc.service"]);
  });

  it("a new app is started (after what it depends on); the provider whose config gained a user restarts first", () => {
    const ws = workspace();
    const a = tree(ws);
    cpSync(join(FIXTURES, "extra/extra.yaml"), join(ws.manifests, "extra.yaml"));
    const p = computePlan(a, tree(ws));
    expect(steps(p.steps)).toEqual(["restart btc.service", "start extra.service"]);
    expect(p.steps[1]!.why).toBe("new");
  });

  it("a changed network definition: stop members (dependents first), stop the network, rm it, start it, start members in order", () => {
    const ws = workspace();
    const a = tree(ws);
    const b = withFile(a, `${UNITS}/archy.network`, (s) => s.replace("Subnet=10.89.0.0/24", "Subnet=10.90.0.0/24"));
    const p = computePlan(a, b);
    expect(p.changed).toEqual([`${UNITS}/archy.network`]);
    expect(p.daemonReload).toBe(true);
    expect(steps(p.steps)).toEqual([
      "stop web-worker.service",
      "stop web.service",
      "stop indexer.service",
      "stop archy-ui.service",
      "stop btc.service",
      "stop archy-network.service",
      "network-rm archy",
      "start archy-network.service",
      "start btc.service",
      "start archy-ui.service",
      "start indexer.service",
      "start web.service",
      "start web-worker.service",
    ]);
    expect(formatPlan(p)).toContain("  podman network rm archy  (network definition changed)");
  });

  it("network change together with a new and a removed app: the new one is only started, the removed one only stopped", () => {
    const ws = workspace();
    const a = tree(ws);
    rmSync(join(ws.manifests, "web.yaml"));
    cpSync(join(FIXTURES, "extra/extra.yaml"), join(ws.manifests, "extra.yaml"));
    const b = withFile(tree(ws), `${UNITS}/archy.network`, (s) => s.replace("Gateway=10.89.0.1", "Gateway=10.89.0.254"));
    expect(steps(computePlan(a, b).steps)).toEqual([
      "stop web-worker.service",
      "stop web.service",
      "stop indexer.service",
      "stop archy-ui.service",
      "stop btc.service",
      "stop archy-network.service",
      "network-rm archy",
      "start archy-network.service",
      "start btc.service",
      "start archy-ui.service",
      "start extra.service",
      "start indexer.service",
    ]);
  });

  it("timers and path units of archy-quadlet restart when changed, start when new, stop when removed", () => {
    const ws = workspace();
    const a = tree(ws);
    const timer = "etc/systemd/system/archy-quadlet-reconcile.timer";
    const b = withFile(a, timer, (s) => s.replace("OnUnitActiveSec=30s", "OnUnitActiveSec=60s"));
    expect(computePlan(a, b).steps).toEqual([{ action: "restart", unit: "archy-quadlet-reconcile.timer", why: "unit changed" }]);
    const c: Tree = new Map(a);
    c.delete(timer);
    expect(steps(computePlan(a, c).steps)).toEqual(["stop archy-quadlet-reconcile.timer"]);
  });

  it("containers.conf drop-in changes restart nothing and say so", () => {
    const ws = workspace();
    const a = tree(ws);
    const b = withFile(a, "etc/containers/containers.conf.d/50-archy.conf", (s) => `${s}# x\n`);
    const p = computePlan(a, b);
    expect(p.steps).toEqual([]);
    expect(p.daemonReload).toBe(false);
    expect(p.notes).toEqual(["/etc/containers/containers.conf.d/50-archy.conf changed: takes effect as each container next starts"]);
    expect(formatPlan(p)).toContain("no service needs to start, stop or restart");
  });

  it("plans are symmetric: going back restarts the same services", () => {
    const ws = workspace();
    const a = tree(ws);
    edit(ws, "indexer.yaml", (s) => s.replace('version: "1.0"', 'version: "2.0"'));
    const b = tree(ws);
    expect(steps(computePlan(a, b).steps)).toEqual(["restart indexer.service"]);
    expect(steps(computePlan(b, a).steps)).toEqual(["restart indexer.service"]);
  });
});

describe("orderServices", () => {
  it("puts every dependency before its dependents for any DAG (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }).chain((n) =>
          fc.tuple(fc.constant(n), fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 30 }), fc.subarray([...Array(n).keys()])),
        ),
        ([, pairs, want]) => {
          const edges = new Map<string, Set<string>>();
          const name = (i: number) => `s${String(i).padStart(2, "0")}.service`;
          // Only edges from a higher to a lower index: always acyclic.
          for (const [x, y] of pairs) if (x > y) edges.set(name(x), new Set([...(edges.get(name(x)) ?? []), name(y)]));
          const order = orderServices(want.map(name), edges);
          expect([...order].sort()).toEqual(want.map(name).sort());
          const pos = new Map(order.map((s, i) => [s, i]));
          const reach = (from: string, seen = new Set<string>()): Set<string> => {
            for (const d of edges.get(from) ?? []) if (!seen.has(d)) (seen.add(d), reach(d, seen));
            return seen;
          };
          for (const s of order) for (const d of reach(s)) if (pos.has(d)) expect(pos.get(d)!).toBeLessThan(pos.get(s)!);
        },
      ),
      { numRuns: 300 },
    );
  });
});

