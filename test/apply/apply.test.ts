// apply against a temp root with the recording fake (systemctl/podman) and the
// real quadlet for the preflight: generations, stable links, exact calls,
// no-op applies that touch nothing, foreign files, refusals, dry runs.
import { afterEach, describe, expect, it } from "vitest";
import { cpSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apply, rollback } from "../../src/apply/apply.js";
import { StateError, currentId, readMeta, treeHash, readGeneration } from "../../src/apply/state.js";
import {
  FIXTURES, STATE, activeView, cleanup, currentLink, edit, genFiles, genIds, inputs, logged, runCli, show, snapshot, testEnv, viewHash, workspace,
} from "./helpers.js";
import { ACTIVE } from "./layout.js";
import { golden } from "../helpers/cli.js";

afterEach(cleanup);

const UNITS = "etc/containers/systemd/archy";

const FIRST_START = [
  // Units started for the first time: is a container archy-quadlet did not create holding their names? (src/adopt/preflight.ts)
  "podman ps -a --format json",
  "systemctl daemon-reload",
  "systemctl start archy-quadlet-reconcile.path",
  "systemctl start archy-quadlet-reconcile.timer",
  "systemctl start btc.service",
  "systemctl start archy-ui.service",
  "systemctl start indexer.service",
  "systemctl start web.service",
  "systemctl start web-worker.service",
];

describe("apply", () => {
  it("first apply: generation 1, stable links into current, daemon-reload and starts", async () => {
    const ws = workspace();
    const env = testEnv(ws);
    const r = await apply(env, inputs(ws));
    expect(r.generation).toBe(1);
    expect(r.failures).toEqual([]);
    expect(show(env.adapter.calls)).toEqual(FIRST_START);
    expect(env.quadletRuns).toHaveLength(1);
    expect(env.lines).toContain("switched to generation 1");

    expect(currentLink(ws.root)).toBe("generations/1");
    expect(genIds(ws.root)).toEqual(["1"]);
    const meta = readMeta(ws.root, 1)!;
    expect(meta).toMatchObject({ id: 1, state: "good", manifestHash: expect.stringMatching(/^[0-9a-f]{16}$/) });

    // Every link resolves through etc/archy-quadlet/active/current, on the root file system.
    const link = (p: string) => readlinkSync(join(ws.root, p));
    expect(link(`${ACTIVE}/current`)).toBe("1");
    expect(link(UNITS)).toBe(`../../archy-quadlet/active/current/${UNITS}`);
    expect(link("etc/archy")).toBe("archy-quadlet/active/current/etc/archy");
    expect(link("etc/containers/containers.conf.d/50-archy.conf")).toBe("../../archy-quadlet/active/current/etc/containers/containers.conf.d/50-archy.conf");
    for (const u of ["archy-quadlet-reconcile.timer", "archy-quadlet-reconcile.path", "archy-quadlet-reconcile.service", "archy-quadlet-ota-verify.service", "archy-quadlet-podman-heal.service"]) {
      expect(link(`etc/systemd/system/${u}`)).toBe(`../../archy-quadlet/active/current/etc/systemd/system/${u}`);
    }
    expect(link("etc/systemd/system/timers.target.wants/archy-quadlet-reconcile.timer")).toBe("../archy-quadlet-reconcile.timer");
    expect(link("etc/systemd/system/paths.target.wants/archy-quadlet-reconcile.path")).toBe("../archy-quadlet-reconcile.path");
    expect(link("etc/systemd/system/multi-user.target.wants/archy-quadlet-ota-verify.service")).toBe("../archy-quadlet-ota-verify.service");
    expect(link("etc/systemd/system/multi-user.target.wants/archy-quadlet-podman-heal.service")).toBe("../archy-quadlet-podman-heal.service");
    expect(readFileSync(join(ws.root, "etc/systemd/system/timers.target.wants/archy-quadlet-reconcile.timer"), "utf8")).toContain("[Timer]");

    // What the system sees through the links is exactly generation 1, modes included.
    expect(viewHash(ws.root)).toBe(meta.treeHash);
    const view = activeView(ws.root);
    expect(view.get("etc/archy/ui/nginx.conf")!.mode).toBe(0o600);
    expect(view.get("etc/archy/btc/bitcoin.conf")!.mode).toBe(0o644);
    expect(view.get(`${UNITS}/web.container`)!.content.toString()).toContain("Image=docker.io/library/nginx:1.27");
    expect(JSON.parse(readFileSync(join(ws.root, STATE, "inputs.json"), "utf8"))).toMatchObject({ manifests: ws.manifests, secrets: ws.secrets, keep: 3 });
  });

  it("a no-op second apply makes no call at all (not even quadlet) and changes nothing on disk", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    const before = snapshot(ws.dir);
    const env = testEnv(ws);
    const r = await apply(env, inputs(ws));
    expect(r.noop).toBe(true);
    expect(r.generation).toBe(1);
    expect(env.adapter.calls).toEqual([]);
    expect(env.quadletRuns).toEqual([]);
    expect(env.lines).toEqual(["generation 1 is up to date: nothing to do"]);
    // names, inodes, mtimes and ctimes of every entry (directories included: not even a lock file came and went)
    expect(snapshot(ws.dir)).toEqual(before);
  });

  it("a no-op apply through the CLI records no call and changes nothing", async () => {
    const ws = workspace();
    const args = ["apply", "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets];
    expect((await runCli(args, { log: ws.log })).code).toBe(0);
    rmSync(ws.log);
    const before = snapshot(ws.root);
    const r = await runCli(args, { log: ws.log });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("generation 1 is up to date: nothing to do\n");
    expect(existsSync(ws.log)).toBe(false);
    expect(snapshot(ws.root)).toEqual(before);
  });

  it("changing one app restarts exactly its services; every other file stays byte-identical", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    const g1 = readGeneration(ws.root, 1);
    edit(ws, "web.yaml", (s) => s.replace('version: "1.0"', 'version: "1.1"'));
    const env = testEnv(ws);
    const r = await apply(env, inputs(ws));
    expect(r.generation).toBe(2);
    expect(show(env.adapter.calls)).toEqual(["systemctl daemon-reload", "systemctl restart web.service", "systemctl restart web-worker.service"]);
    const changed = [`${UNITS}/web-worker.container`, `${UNITS}/web.container`];
    expect(r.plan.changed).toEqual(changed);
    const view = activeView(ws.root);
    for (const [p, f] of g1) if (!changed.includes(p)) expect(view.get(p), p).toEqual(f);
    expect(view.get(`${UNITS}/web.container`)!.content.toString()).toContain("Label=archy.version=1.1");

    // A change to one container of the app restarts only that one.
    edit(ws, "web.yaml", (s) => s.replace("nginx:1.27", "nginx:1.28"));
    const env3 = testEnv(ws);
    await apply(env3, inputs(ws));
    expect(show(env3.adapter.calls)).toEqual(["systemctl daemon-reload", "systemctl restart web.service"]);
  });

  it("removing an app stops it; its files leave the active tree, other apps' files are untouched", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    const g1 = readGeneration(ws.root, 1);
    rmSync(join(ws.manifests, "indexer.yaml"));
    const env = testEnv(ws);
    await apply(env, inputs(ws));
    // A removed unit is stopped while systemd still has it loaded, i.e. before the daemon-reload;
    // bitcoin.conf lost the indexer's rpcauth line, so the provider restarts too.
    expect(show(env.adapter.calls)).toEqual(["systemctl stop indexer.service", "systemctl daemon-reload", "systemctl restart btc.service"]);
    const view = activeView(ws.root);
    expect(view.has(`${UNITS}/indexer.container`)).toBe(false);
    expect(view.has("etc/archy/indexer/electrumx.env")).toBe(false);
    expect(existsSync(join(ws.root, "etc/archy/indexer"))).toBe(false);
    for (const p of [`${UNITS}/web.container`, `${UNITS}/web-worker.container`, `${UNITS}/archy-ui.container`, "etc/archy/ui/nginx.conf", "etc/archy/build/archy-ui/index.html"]) {
      expect(view.get(p), p).toEqual(g1.get(p));
    }
  });

  it("adding an app starts it", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    cpSync(join(FIXTURES, "extra/extra.yaml"), join(ws.manifests, "extra.yaml"));
    const env = testEnv(ws);
    await apply(env, inputs(ws));
    expect(show(env.adapter.calls)).toEqual(["podman ps -a --format json", "systemctl daemon-reload", "systemctl restart btc.service", "systemctl start extra.service"]);
    expect(activeView(ws.root).get("etc/archy/extra/lnd.conf")!.mode).toBe(0o600);
  });

  it("foreign files next to ours survive every apply and rollback", async () => {
    const ws = workspace();
    const foreign = {
      "etc/containers/systemd/mine.container": "[Container]\nImage=docker.io/library/redis:7\n",
      "etc/containers/containers.conf.d/10-local.conf": "[engine]\nevents_logger = \"file\"\n",
      "etc/systemd/system/local.service": "[Service]\nExecStart=/bin/true\n",
    };
    for (const [p, text] of Object.entries(foreign)) {
      mkdirSync(join(ws.root, p, ".."), { recursive: true });
      writeFileSync(join(ws.root, p), text);
    }
    const snap = () => Object.keys(foreign).map((p) => snapshot(join(ws.root, p)));
    const before = snap();
    await apply(testEnv(ws), inputs(ws));
    expect(snap()).toEqual(before);
    edit(ws, "web.yaml", (s) => s.replace("nginx:1.27", "nginx:1.28"));
    await apply(testEnv(ws), inputs(ws));
    rmSync(join(ws.manifests, "web.yaml"));
    await apply(testEnv(ws), inputs(ws));
    expect(snap()).toEqual(before);
    await rollback(testEnv(ws));
    await rollback(testEnv(ws), 1);
    expect(snap()).toEqual(before);
    expect(currentId(ws.root)).toBe(1);
  });

  it("a pre-existing foreign /etc/archy makes apply refuse with a clear error and change nothing", async () => {
    const ws = workspace();
    mkdirSync(join(ws.root, "etc/archy"), { recursive: true });
    writeFileSync(join(ws.root, "etc/archy/old.conf"), "keep me\n");
    const before = snapshot(ws.dir);
    const env = testEnv(ws);
    await expect(apply(env, inputs(ws))).rejects.toThrow(StateError);
    await expect(apply(env, inputs(ws))).rejects.toThrow("refusing to replace /etc/archy: it exists and was not created by archy-quadlet (move it away first)");
    expect(env.adapter.calls).toEqual([]);
    expect(snapshot(ws.dir)).toEqual(before);

    const r = await runCli(["apply", "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets], { log: ws.log });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("error: refusing to replace /etc/archy");
    expect(existsSync(ws.log)).toBe(false);
    expect(snapshot(ws.dir)).toEqual(before);
  });

  it("a changed network definition: stop members, stop the network, podman network rm, start it, start members", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    // Someone edited the network unit in place (through the stable link): apply puts ours back,
    // and since quadlet never alters an existing network, the network is recreated.
    const net = join(ws.root, UNITS, "archy.network");
    writeFileSync(net, readFileSync(net, "utf8").replace("Subnet=10.89.0.0/24", "Subnet=10.99.0.0/24"));
    const env = testEnv(ws);
    const r = await apply(env, inputs(ws));
    expect(r.generation).toBe(2);
    expect(show(env.adapter.calls)).toEqual([
      "systemctl daemon-reload",
      "systemctl stop web-worker.service",
      "systemctl stop web.service",
      "systemctl stop indexer.service",
      "systemctl stop archy-ui.service",
      "systemctl stop btc.service",
      "systemctl stop archy-network.service",
      "podman network rm --force archy",
      "systemctl start archy-network.service",
      "systemctl start btc.service",
      "systemctl start archy-ui.service",
      "systemctl start indexer.service",
      "systemctl start web.service",
      "systemctl start web-worker.service",
    ]);
    expect(readFileSync(net, "utf8")).toContain("Subnet=10.89.0.0/24");
  });

  it("--dry-run prints the plan, writes nothing and makes no calls", async () => {
    const ws = workspace();
    rmSync(ws.secrets, { recursive: true }); // would be created by a real apply
    const before = snapshot(ws.dir);
    const r = await runCli(["apply", "--dry-run", "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets], { log: ws.log });
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").slice(0, 4)).toEqual([
      "plan: 18 files change, systemctl daemon-reload",
      "  start   archy-quadlet-reconcile.path  (new)",
      "  start   archy-quadlet-reconcile.timer  (new)",
      "  start   btc.service  (new)",
    ]);
    expect(existsSync(ws.log)).toBe(false);
    expect(snapshot(ws.dir)).toEqual(before);

    // And after a real apply, a dry run of a change.
    const ws2 = workspace();
    await apply(testEnv(ws2), inputs(ws2));
    edit(ws2, "web.yaml", (s) => s.replace("nginx:1.27", "nginx:1.28"));
    const before2 = snapshot(ws2.dir);
    const r2 = await runCli(["apply", "--dry-run", "--root", ws2.root, "--manifests", ws2.manifests, "--secrets", ws2.secrets], { log: ws2.log });
    expect(r2.stdout).toBe(
      [
        "plan: 1 file change, systemctl daemon-reload",
        "  restart web.service  (unit changed)",
        "",
      ].join("\n"),
    );
    expect(existsSync(ws2.log)).toBe(false);
    expect(snapshot(ws2.dir)).toEqual(before2);
  });

  it("apply --dry-run --json has a stable shape (golden)", async () => {
    const ws = workspace();
    const r = await runCli(["apply", "--dry-run", "--json", "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets], { log: ws.log });
    expect(r.code).toBe(0);
    golden(join(import.meta.dirname, "golden/apply-dry-run.json"), r.stdout);
    // progress goes to stderr, so stdout is pure JSON
    expect(r.stderr).toContain("plan: 18 files change");
    expect(Object.keys(JSON.parse(r.stdout))).toEqual(["noop", "generation", "changed", "daemonReload", "steps", "notes", "failures"]);

    // the no-op shape
    await apply(testEnv(ws), inputs(ws));
    const n = await runCli(["apply", "--dry-run", "--json", "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets], { log: ws.log });
    expect(JSON.parse(n.stdout)).toEqual({ noop: true, generation: 1, changed: [], daemonReload: false, steps: [], notes: [], failures: [] });
  });

  it("meta records the manifest hash (same manifests → same hash) and the tree hash", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    edit(ws, "web.yaml", (s) => s.replace("nginx:1.27", "nginx:1.28"));
    await apply(testEnv(ws), inputs(ws));
    const [m1, m2] = [readMeta(ws.root, 1)!, readMeta(ws.root, 2)!];
    expect(m1.manifestHash).not.toBe(m2.manifestHash);
    expect(m2.treeHash).toBe(treeHash(readGeneration(ws.root, 2)));
    expect(genFiles(ws.root, 2)).toContain(`${UNITS}/web.container`);
  });
});
