// apply on an adopted node (recording fake for podman/systemctl, the real quadlet for the
// preflight, test/apply's fixture catalog): mapped sources must exist, a foreign container
// holding a new unit's name with data it would not mount stops the apply (exit 3, nothing
// switched) unless --replace-foreign names it, and the takeover of the old system's units
// (disable --now with the generation that starts ours; enable --now on a rollback past it).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { apply, rollback } from "../../src/apply/apply.js";
import { currentId } from "../../src/apply/state.js";
import { Failure } from "../../src/outcome.js";
import type { RecordedCall } from "../../src/apply/adapter.js";
import { formatStatus, nodeStatus } from "../../src/cli/status.js";
import { cleanup, genIds, inputs, show, testEnv, workspace, type Workspace } from "../apply/helpers.js";

afterEach(cleanup);

const LEGACY_MOUNT = { Type: "bind", Source: "/srv/legacy/btc", Destination: "/data", Driver: "", Mode: "", Options: ["rbind"], RW: true, Propagation: "rprivate" };
// podman 5.4 shapes (see test/adopt/fixtures/podman-5.4/README.md), trimmed to one container.
const PS = JSON.stringify([{ Id: "f".repeat(64), Names: ["btc"], Image: "docker.io/library/busybox:1.36", State: "running", Labels: null, Mounts: ["/data"] }]);
const inspect = (labels: Record<string, string> | null) =>
  JSON.stringify([{ Id: "f".repeat(64), Name: "btc", ImageName: "docker.io/library/busybox:1.36", Config: { Image: "docker.io/library/busybox:1.36", User: "", Labels: labels }, State: { Status: "running", Running: true }, Mounts: [LEGACY_MOUNT] }]);

function node(labels: Record<string, string> | null = null) {
  return [
    (c: RecordedCall) => (c.cmd === "podman" && c.args[0] === "ps" ? { code: 0, stdout: PS, stderr: "" } : undefined),
    (c: RecordedCall) => (c.cmd === "podman" && c.args[0] === "container" && c.args[1] === "inspect" ? { code: 0, stdout: inspect(labels), stderr: "" } : undefined),
    (c: RecordedCall) => (c.cmd === "podman" && c.args[0] === "volume" ? (c.args[2] === "btc-legacy" ? { code: 0, stdout: "[{}]", stderr: "" } : { code: 125, stdout: "", stderr: "no such volume" }) : undefined),
  ];
}

function select(ws: Workspace, body: string): string {
  const p = join(ws.dir, "node.yaml");
  writeFileSync(p, `apps: [btc, indexer]\n${body}`);
  return p;
}

async function refused(p: Promise<unknown>): Promise<Failure> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(Failure);
  return e as Failure;
}

describe("apply: a foreign container holding a unit's name", () => {
  it("with data the unit would not mount: exit 3, nothing switched, no generation left, adopt named", async () => {
    const ws = workspace();
    const env = testEnv(ws, node());
    const e = await refused(apply(env, inputs(ws, { select: select(ws, "") })));
    expect(e.kind).toBe("failed");
    expect(e.message).toContain(`the existing container "btc" was not created by archy-quadlet and mounts /srv/legacy/btc at /data, which btc.service would not mount`);
    expect(e.message).toContain("archy-quadlet adopt --select");
    expect(e.message).toContain("nothing was switched; the existing containers keep running");
    expect(currentId(ws.root)).toBeUndefined();
    expect(genIds(ws.root)).toEqual([]);
    expect(show(env.adapter.calls)).toEqual(["podman ps -a --format json", "podman container inspect btc"]);
  });

  it("adopted with an extra mount adopt could not map: replaced, the extra mount logged and left where it is", async () => {
    const ws = workspace();
    mkdirSync(join(ws.root, "srv/legacy/btc"), { recursive: true });
    const extra = { ...LEGACY_MOUNT, Source: "/srv/legacy/extra", Destination: "/backup" };
    const rules = node();
    rules.unshift((c: RecordedCall) =>
      c.cmd === "podman" && c.args[0] === "container" ? { code: 0, stdout: JSON.stringify([{ ...JSON.parse(inspect(null))[0], Mounts: [LEGACY_MOUNT, extra] }]), stderr: "" } : undefined,
    );
    const env = testEnv(ws, rules);
    const r = await apply(env, inputs(ws, { select: select(ws, "storage:\n  btc: { data: /srv/legacy/btc }\n") }));
    expect(r.failures).toEqual([]);
    expect(env.lines).toContain("btc: replacing the existing container; its mounts /srv/legacy/extra at /backup are not mounted by btc.service (they stay where they are)");
  });

  it("mapped in place (what adopt writes): replaced by the unit (quadlet's --replace), the data mounted", async () => {
    const ws = workspace();
    mkdirSync(join(ws.root, "srv/legacy/btc"), { recursive: true });
    const env = testEnv(ws, node());
    const r = await apply(env, inputs(ws, { select: select(ws, "storage:\n  btc: { data: /srv/legacy/btc }\n") }));
    expect(r.failures).toEqual([]);
    expect(readFileSync(join(ws.root, "etc/containers/systemd/archy/btc.container"), "utf8")).toContain("Volume=/srv/legacy/btc:/data:rw");
    expect(show(env.adapter.calls)).toContain("systemctl start btc.service");
    // status shows where the data lives and that it was adopted.
    const st = await nodeStatus(ws.root, testEnv(ws).adapter);
    expect(st.apps.find((a) => a.id === "btc")!.containers[0]!.data).toEqual([{ target: "/data", host: "/srv/legacy/btc", volume: null, readOnly: false, adopted: true }]);
    expect(formatStatus(st)).toContain("data: btc:/data ← /srv/legacy/btc (adopted, used in place)");
  });

  it("--replace-foreign btc replaces it on purpose; a container of ours is never in the way", async () => {
    const ws = workspace();
    const env = testEnv(ws, node());
    expect((await apply(env, inputs(ws, { select: select(ws, "") }), { replaceForeign: ["btc"] })).failures).toEqual([]);
    const ws2 = workspace();
    const env2 = testEnv(ws2, node({ PODMAN_SYSTEMD_UNIT: "btc.service", "archy.app": "btc" }));
    expect((await apply(env2, inputs(ws2, { select: select(ws2, "") }))).failures).toEqual([]);
  });
});

describe("apply: mapped sources must exist", () => {
  it("a missing directory or named volume: exit 3, nothing switched, nothing created", async () => {
    const ws = workspace();
    const e = await refused(apply(testEnv(ws, node()), inputs(ws, { select: select(ws, "storage:\n  btc: { data: /srv/gone }\n") })));
    expect(e.kind).toBe("failed");
    expect(e.message).toContain("storage.btc.data: /srv/gone does not exist or is not a directory");
    expect(existsSync(join(ws.root, "srv/gone"))).toBe(false);
    expect(currentId(ws.root)).toBeUndefined();
    const ws2 = workspace();
    const e2 = await refused(apply(testEnv(ws2, node()), inputs(ws2, { select: select(ws2, 'storage:\n  btc: { data: "volume:nope" }\n') })));
    expect(e2.kind).toBe("failed");
    expect(e2.message).toContain(`storage.btc.data: the podman named volume "nope" does not exist`);
    expect(currentId(ws2.root)).toBeUndefined();
    // The named volume that exists is used in place.
    const ws3 = workspace();
    const r = await apply(testEnv(ws3, node()), inputs(ws3, { select: select(ws3, 'storage:\n  btc: { data: "volume:btc-legacy" }\n') }), { replaceForeign: ["btc"] });
    expect(r.failures).toEqual([]);
    expect(readFileSync(join(ws3.root, "etc/containers/systemd/archy/btc.container"), "utf8")).toMatch(/^Volume=btc-legacy:\/data:rw$/m);
  });
});

/** A node the old system set up: its data dir and its reconcile unit. */
function legacyNode() {
  const ws = workspace();
  mkdirSync(join(ws.root, "srv/legacy/btc"), { recursive: true });
  mkdirSync(join(ws.root, "etc/systemd/system"), { recursive: true });
  writeFileSync(join(ws.root, "etc/systemd/system/reconcile-containers.service"), "[Service]\nExecStart=/bin/true\n");
  return ws;
}

describe("takeover of the old system's units", () => {
  it("the first apply disables --now the present ones; a rollback past it enables --now them again", async () => {
    const ws = legacyNode();
    // Generation 1: a node before adoption (no btc mapping needed: the foreign check passes with replace).
    const sel = select(ws, "storage:\n  btc: { data: /srv/legacy/btc }\n");
    const env = testEnv(ws, node());
    await apply(env, inputs(ws, { select: sel }));
    const calls = show(env.adapter.calls);
    // Stopped before any of ours start.
    expect(calls.indexOf("systemctl disable --now reconcile-containers.service")).toBeGreaterThanOrEqual(0);
    expect(calls.indexOf("systemctl disable --now reconcile-containers.service")).toBeLessThan(calls.indexOf("systemctl daemon-reload"));
    expect(calls).not.toContain("systemctl disable --now first-boot-containers.service"); // absent: not acted on
    const record = JSON.parse(readFileSync(join(ws.root, "var/lib/archy-quadlet/takeover.json"), "utf8"));
    expect(record).toEqual({ generation: 1, units: ["reconcile-containers.service"] });
    // A second apply (a change) does not act again.
    writeFileSync(sel, `${readFileSync(sel, "utf8")}settings: { resource_limits: false }\n`);
    const env2 = testEnv(ws, node());
    await apply(env2, inputs(ws, { select: sel }));
    expect(show(env2.adapter.calls).filter((c) => c.includes("containers.service"))).toEqual([]);
    expect(currentId(ws.root)).toBe(2);
    // Rolling back to 1 is not past the takeover; nothing to give back.
    const env3 = testEnv(ws, node());
    await rollback(env3, 1);
    expect(show(env3.adapter.calls).filter((c) => c.includes("containers.service"))).toEqual([]);
  });

  it("a rollback to a generation from before the takeover re-enables and starts the old units", async () => {
    const ws = workspace();
    mkdirSync(join(ws.root, "srv/legacy/btc"), { recursive: true });
    mkdirSync(join(ws.root, "usr/lib/systemd/system"), { recursive: true });
    for (const u of ["first-boot-containers.service", "reconcile-containers.service"]) writeFileSync(join(ws.root, "usr/lib/systemd/system", u), "[Service]\n");
    // Generation 1 adopts nothing (no storage:): the old units stay; generation 2 (adopt --write) takes over.
    const sel = join(ws.dir, "node.yaml");
    writeFileSync(sel, "apps: [indexer, btc]\n");
    const env1 = testEnv(ws, node());
    await apply(env1, inputs(ws, { select: sel }), { replaceForeign: ["btc"] });
    expect(show(env1.adapter.calls).filter((c) => c.includes("containers.service"))).toEqual([]);
    writeFileSync(sel, "apps: [indexer, btc]\nstorage:\n  btc: { data: /srv/legacy/btc }\n");
    const env2 = testEnv(ws, node());
    await apply(env2, inputs(ws, { select: sel }));
    expect(show(env2.adapter.calls)).toContain("systemctl disable --now first-boot-containers.service reconcile-containers.service");
    const env3 = testEnv(ws, node());
    const r = await rollback(env3, 1);
    expect(r.failures).toEqual([]);
    const calls = show(env3.adapter.calls);
    expect(calls[calls.length - 1]).toBe("systemctl enable --now first-boot-containers.service reconcile-containers.service");
    expect(existsSync(join(ws.root, "var/lib/archy-quadlet/takeover.json"))).toBe(false);
  });

  it("a rollback past a takeover the first generation made goes to generation 0 (no generation): ours stop, the old units start again", async () => {
    const ws = legacyNode();
    const sel = select(ws, "storage:\n  btc: { data: /srv/legacy/btc }\n");
    await apply(testEnv(ws, node()), inputs(ws, { select: sel }));
    expect(currentId(ws.root)).toBe(1);
    const env = testEnv(ws, node());
    const r = await rollback(env);
    expect(r.failures).toEqual([]);
    expect(r.generation).toBe(0);
    expect(currentId(ws.root)).toBe(0);
    const calls = show(env.adapter.calls);
    expect(calls).toContain("systemctl stop btc.service");
    expect(calls[calls.length - 1]).toBe("systemctl enable --now reconcile-containers.service");
    // Nothing of ours is left in the active tree; the data was never touched.
    expect(existsSync(join(ws.root, "etc/containers/systemd/archy/btc.container"))).toBe(false);
    expect(existsSync(join(ws.root, "srv/legacy/btc"))).toBe(true);
    expect(existsSync(join(ws.root, "var/lib/archy-quadlet/takeover.json"))).toBe(false);
    // Applying again takes over again (a new generation, the record rewritten).
    const env2 = testEnv(ws, node());
    await apply(env2, inputs(ws, { select: sel }));
    expect(show(env2.adapter.calls)).toContain("systemctl disable --now reconcile-containers.service");
    expect(JSON.parse(readFileSync(join(ws.root, "var/lib/archy-quadlet/takeover.json"), "utf8"))).toEqual({ generation: 2, units: ["reconcile-containers.service"] });
  });

  it("without a takeover there is nothing before the first generation unless asked for (--to 0)", async () => {
    const ws = workspace();
    const sel = select(ws, "");
    await apply(testEnv(ws, node()), inputs(ws, { select: sel }), { replaceForeign: ["btc"] });
    const e = await refused(rollback(testEnv(ws, node())));
    expect(e.message).toBe("no earlier generation to roll back to");
    expect(currentId(ws.root)).toBe(1);
    const env = testEnv(ws, node());
    const r = await rollback(env, 0);
    expect(r.failures).toEqual([]);
    expect(currentId(ws.root)).toBe(0);
    expect(show(env.adapter.calls)).toContain("systemctl stop btc.service");
    expect(show(env.adapter.calls).filter((c) => c.includes("enable"))).toEqual([]);
  });
});
