// The selection's storage mapping, data_root and rpc_users: what the compiler emits and refuses.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../src/plan/inputs.js";
import { ReviewSecrets } from "../../src/configs/secrets.js";
import { rpcauthHash } from "../../src/configs/rpcauth.js";

const MANIFESTS = join(import.meta.dirname, "..", "..", "manifests");

function run(selection: string) {
  const dir = mkdtempSync(join(tmpdir(), "archy-storage-"));
  const select = join(dir, "node.yaml");
  writeFileSync(select, selection);
  const r = compile({ manifests: MANIFESTS, select, secrets: new ReviewSecrets() });
  const file = (p: string) => r.files.find((f) => f.path === p)?.content.toString() ?? "";
  return { r, select, file, diags: r.diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`) };
}

const BASE = "apps: [bitcoin-knots, lnd, thunderhub]\n";

describe("storage mapping", () => {
  it("mounts a mapped directory and a named volume in place, and creates neither", () => {
    const { r, file } = run(`${BASE}storage:\n  bitcoin-knots: { data: /srv/legacy/bitcoin }\n  lnd: { data: "volume:lnd-legacy" }\n`);
    expect(r.diagnostics).toEqual([]);
    const btc = file("etc/containers/systemd/archy/bitcoin-knots.container");
    expect(btc).toContain("Volume=/srv/legacy/bitcoin:");
    expect(btc).not.toMatch(/ExecStartPre=.*\/srv\/legacy/);
    const lnd = file("etc/containers/systemd/archy/lnd.container");
    expect(lnd).toMatch(/^Volume=lnd-legacy:\/data:rw$/m);
    // The unmapped source is still created under the data root.
    expect(lnd).toMatch(/ExecStartPre=\/usr\/bin\/mkdir -p \/var\/lib\/archy\/apps\/lnd\/macaroons/);
    expect(lnd).not.toContain("/var/lib/archy/apps/lnd/data");
  });

  it("data_root replaces /var/lib/archy/apps for unmapped sources; cross-app mounts follow the owner's mapping", () => {
    const { r, file } = run(`${BASE}settings: { data_root: /mnt/ssd/archy/apps }\nstorage:\n  lnd: { macaroons: /srv/legacy/lnd-macaroons }\n`);
    expect(r.diagnostics).toEqual([]);
    expect(file("etc/containers/systemd/archy/lnd.container")).toContain("Volume=/mnt/ssd/archy/apps/lnd/data:/data:rw");
    // thunderhub reads lnd's macaroons read-only: it follows lnd's mapping.
    expect(file("etc/containers/systemd/archy/thunderhub.container")).toContain("Volume=/srv/legacy/lnd-macaroons:/lnd-macaroons:ro");
  });

  it("refuses bad mappings, all at once, with file:line:col", () => {
    const { r, diags } = run(
      `${BASE}storage:\n  bitcoin-knots: { data: /srv/d, nope: /srv/x }\n  lnd: { data: /srv/d/lnd, macaroons: /etc/lnd }\n  electrumx: { db: /srv/e }\n  ghost: { data: /srv/g }\n  thunderhub: { data: /var/lib/archy/secrets }\n`,
    );
    expect(r.files).toEqual([]);
    expect(diags.join("\n")).toMatchInlineSnapshot(`
      "3:34: app "bitcoin-knots" has no volume source "nope" (its sources: data)
      4:28: "/etc/lnd" cannot hold app data: it is inside /etc, which is never app data
      5:3: app "electrumx" is not in this selection's apps
      6:3: unknown app "ghost"
      7:17: "/var/lib/archy/secrets" cannot hold app data: it is /var/lib/archy/secrets, which is never app data
      4:10: "/srv/d/lnd" and "/srv/d" nest for app "bitcoin-knots" source "data" (storage.bitcoin-knots.data): one directory or volume holds one volume's data"
    `);
  });

  it("refuses relative, unnormalised and parent-of-system paths", () => {
    for (const [v, msg] of [["srv/x", "absolute"], ["/srv/../etc", "normalised"], ["/srv/x/", "normalised"], ["/", "root directory"], ["/var", "contains /var/lib/archy/secrets"], ["volume:x.volume", "not a .volume unit"]]) {
      const { diags } = run(`${BASE}storage:\n  lnd: { data: "${v}" }\n`);
      expect(diags.join("\n"), v).toContain(msg);
    }
  });

  it("one named volume for two apps is an error", () => {
    const { diags } = run(`${BASE}storage:\n  lnd: { data: "volume:v" }\n  thunderhub: { data: "volume:v" }\n`);
    expect(diags.join("\n")).toContain(`"volume:v" is already mapped for app "lnd"`);
  });
});

describe("rpc_users", () => {
  it("carries an rpcauth line as written and a store-backed user as an rpcauth line of its password", () => {
    const foreign = "wallet:0123456789abcdef0123456789abcdef$" + "a".repeat(64);
    const { r, file } = run(`${BASE}rpc_users:\n  - { name: wallet, rpcauth: "${foreign}" }\n  - { name: dashboard, secret: true }\n`);
    expect(r.diagnostics).toEqual([]);
    const conf = file("etc/archy/bitcoin-knots/bitcoin.conf");
    expect(conf).toContain(`rpcauth=${foreign}\n`);
    const m = /^rpcauth=dashboard:([0-9a-f]{32})\$([0-9a-f]{64})$/m.exec(conf);
    expect(m).not.toBeNull();
    // The review secret set's value for rpc-user-dashboard authenticates against that line.
    const pass = new ReviewSecrets().get("rpc-user-dashboard");
    expect(rpcauthHash(m![1]!, pass)).toBe(m![2]);
    expect(conf).not.toContain(pass);
  });

  it("refuses duplicates, a catalog app's name, both/neither forms and a mismatched user", () => {
    const { diags } = run(`${BASE}rpc_users:\n  - { name: a, secret: true }\n  - { name: a, secret: true }\n  - { name: lnd, secret: true }\n  - { name: b }\n  - { name: c, rpcauth: "d:0123456789abcdef$${"b".repeat(64)}" }\n`);
    expect(diags.join("\n")).toMatchInlineSnapshot(`
      "4:7: rpc user "a" is listed twice
      5:7: "lnd" is a catalog app's own rpc user; choose another name
      6:5: an rpc user has exactly one of \`rpcauth\` (a line from rpcauth.py) or \`secret: true\` (a password in the secrets store)
      7:16: the rpcauth line is for user "d", not "c""
    `);
  });
});
