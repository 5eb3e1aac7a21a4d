// Restart precision of settings through apply (recording adapter, real quadlet
// preflight): a bitcoin.conf-only change restarts bitcoind and nothing else
// apply asks for; a selection breaking a rule exits invalid and switches nothing.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { apply } from "../../src/apply/apply.js";
import { REPO } from "../helpers/quadlet.js";
import { activeView, cleanup, inputs, show, snapshot, testEnv, workspace } from "../apply/helpers.js";

afterAll(cleanup);

const APPS = "apps: [bitcoin-knots, lnd, electrumx, mempool, bitcoin-ui]\n";

describe("settings through apply", () => {
  it("a dbcache change restarts only bitcoind, whose bitcoin.conf carries the new value", async () => {
    const ws = workspace(join(REPO, "manifests"));
    const select = join(ws.dir, "node.yaml");
    writeFileSync(select, APPS);
    await apply(testEnv(ws), inputs(ws, { select }));
    writeFileSync(select, `${APPS}app_settings:\n  bitcoin: { dbcache: 4096 }\n`);
    const env = testEnv(ws);
    const r = await apply(env, inputs(ws, { select }));
    expect(r.generation).toBe(2);
    expect(show(env.adapter.calls)).toEqual(["systemctl daemon-reload", "systemctl restart bitcoin-knots.service"]);
    expect(activeView(ws.root).get("etc/archy/bitcoin-knots/bitcoin.conf")!.content.toString()).toMatch(/^dbcache=4096$/m);
  });

  it("prune 550 with electrumx selected: invalid, nothing switched", async () => {
    const ws = workspace(join(REPO, "manifests"));
    const select = join(ws.dir, "node.yaml");
    writeFileSync(select, APPS);
    await apply(testEnv(ws), inputs(ws, { select }));
    const before = snapshot(ws.root);
    writeFileSync(select, `${APPS}app_settings:\n  bitcoin: { prune: 550, txindex: false }\n`);
    const env = testEnv(ws);
    await expect(apply(env, inputs(ws, { select }))).rejects.toMatchObject({ kind: "invalid", message: expect.stringMatching(/node\.yaml:\d+:\d+: error: app_settings\.bitcoin\.prune: 550 conflicts with electrumx/) });
    expect(env.adapter.calls).toEqual([]);
    expect(snapshot(ws.root)).toEqual(before);
  });
});
