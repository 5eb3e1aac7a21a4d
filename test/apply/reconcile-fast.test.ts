// reconcile's no-compile path (bundle runs record an input fingerprint in the
// generation's meta) must never hide a change of inputs or of the active tree.
import { afterEach, describe, expect, it } from "vitest";
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { currentId, readMeta } from "../../src/apply/state.js";
import { cleanup, edit, runCli, workspace } from "./helpers.js";

afterEach(cleanup);

const applyArgs = (ws: { root: string; manifests: string; secrets: string }) => ["apply", "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets];

describe("reconcile fast path (bundle)", () => {
  it("records the fingerprint, skips work without drift, and still sees changed inputs and edited files", async () => {
    const ws = workspace();
    expect((await runCli(applyArgs(ws), { log: ws.log })).code).toBe(0);
    expect(readMeta(ws.root, 1)!.fingerprint).toMatch(/^[0-9a-f]{64}$/);

    const quiet = await runCli(["reconcile", "--root", ws.root], { log: ws.log });
    expect(quiet).toMatchObject({ code: 0, stdout: "" });

    edit(ws, "web.yaml", (s) => s.replace("nginx:1.27", "nginx:1.28"));
    const changed = await runCli(["reconcile", "--root", ws.root], { log: ws.log });
    expect(changed.code).toBe(0);
    expect(changed.stdout).toContain("drift found: applying");
    expect(currentId(ws.root)).toBe(2);

    appendFileSync(join(ws.root, "etc/archy/btc/bitcoin.conf"), "rpcallowip=0.0.0.0/0\n");
    const edited = await runCli(["reconcile", "--root", ws.root], { log: ws.log });
    expect(edited.stdout).toContain("drift found: applying");
    expect(currentId(ws.root)).toBe(3);

    writeFileSync(join(ws.secrets, "rpc-ui"), `${"cd".repeat(32)}\n`, { mode: 0o600 });
    const rotated = await runCli(["reconcile", "--root", ws.root], { log: ws.log });
    expect(rotated.stdout).toContain("drift found: applying");
    expect(currentId(ws.root)).toBe(4);
  });
});
