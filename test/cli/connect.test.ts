// connect APP (issue 16): goldens for electrumx, a bitcoind RPC login and lnd on a
// fake node root (test/cli/fixtures/connect-root: tor hostname files, lnd's TLS
// certificate and admin macaroon); the lndconnect format checked against its spec;
// secrets absent without --show-secrets; missing pieces stated.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanup, cli, golden, tempDir } from "../helpers/cli.js";
import { REPO } from "../helpers/quadlet.js";
import { ReviewSecrets } from "../../src/configs/secrets.js";
import { pemToDer } from "../../src/plan/connect.js";

const ROOT = join(REPO, "test/cli/fixtures/connect-root");
const GOLD = join(REPO, "test/cli/golden");
const LND = join(ROOT, "var/lib/archy/apps/lnd");
const secrets = new ReviewSecrets();

let tmp = "";
let select = "";
beforeAll(() => {
  tmp = tempDir("archy-connect-");
  select = join(tmp, "node.yaml");
  writeFileSync(select, "apps: [bitcoin-knots, tor, lnd, electrumx, mempool, thunderhub]\n");
});
afterAll(() => cleanup(tmp));

const connect = (app: string, ...extra: string[]) => cli(["connect", app, "--manifests", join(REPO, "manifests"), "--select", select, "--root", ROOT, "--host", "node.lan", ...extra]);

function unb64url(s: string): Buffer {
  expect(s).toMatch(/^[A-Za-z0-9_-]+$/); // base64url, no padding
  return Buffer.from(s, "base64url");
}

describe("connect --json goldens", () => {
  it("electrumx: LAN and onion Electrum server strings", async () => {
    const r = await connect("electrumx", "--json");
    expect(r.code).toBe(0);
    golden(join(GOLD, "connect-electrumx.json"), r.stdout);
    const j = JSON.parse(r.stdout);
    const onion = readFileSync(join(ROOT, "var/lib/archy/apps/tor/data/electrumx-electrum/hostname"), "utf8").trim();
    expect(j.electrum).toEqual(["node.lan:50001:t", `${onion}:50001:t`]);
  });

  it("bitcoind RPC for one consuming app: the password only with --show-secrets", async () => {
    const pw = secrets.get("rpc-electrumx");
    const hidden = await connect("bitcoin-knots", "--rpc-user", "electrumx", "--json");
    expect(hidden.code).toBe(0);
    golden(join(GOLD, "connect-bitcoin-rpc.json"), hidden.stdout);
    expect(hidden.stdout).not.toContain(pw);
    expect(JSON.parse(hidden.stdout).bitcoinRpc).toMatchObject({ user: "electrumx", port: 8332 });
    const shown = await connect("bitcoin-knots", "--rpc-user", "electrumx", "--json", "--show-secrets");
    expect(JSON.parse(shown.stdout).bitcoinRpc.password).toBe(pw);
    expect(shown.stderr).toBe("");
  });

  it("lnd: lndconnect URIs per the spec (base64url DER cert, base64url macaroon), the macaroon only with --show-secrets", async () => {
    const mac = readFileSync(join(LND, "macaroons/admin.macaroon"));
    const der = pemToDer(readFileSync(join(LND, "data/tls.cert"), "utf8"))!;
    const hidden = await connect("lnd", "--json");
    expect(hidden.code).toBe(0);
    golden(join(GOLD, "connect-lnd.json"), hidden.stdout);
    expect(hidden.stdout).not.toContain("macaroon=");
    expect(hidden.stdout).not.toContain(mac.toString("base64url").slice(0, 40));

    const shown = await connect("lnd", "--json", "--show-secrets");
    golden(join(GOLD, "connect-lnd-secrets.json"), shown.stdout);
    const j = JSON.parse(shown.stdout);
    expect(j.lndconnect.map((l: { via: string; api: string }) => `${l.api}/${l.via}`)).toEqual(["rest/lan", "grpc/lan", "grpc/onion", "rest/onion"]);
    for (const l of j.lndconnect) {
      const u = new URL(l.uri);
      expect(u.protocol).toBe("lndconnect:");
      const cert = /[?&]cert=([^&]+)/.exec(l.uri)![1]!;
      const macaroon = /[?&]macaroon=([^&]+)/.exec(l.uri)![1]!;
      expect(unb64url(cert).equals(der)).toBe(true);
      // DER: an X.509 SEQUENCE.
      expect(der[0]).toBe(0x30);
      expect(unb64url(macaroon).equals(mac)).toBe(true);
      // lncli prints macaroons as hex: hex → bytes → base64url is the same string.
      expect(Buffer.from(mac.toString("hex"), "hex").toString("base64url")).toBe(macaroon);
    }
    expect(j.lndconnect[0].uri.startsWith("lndconnect://node.lan:8080?cert=")).toBe(true);
  });
});

describe("connect text, QR codes and missing pieces", () => {
  it("--qr renders each URI as a terminal QR code", async () => {
    const r = await connect("electrumx", "--qr");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Electrum server node.lan:50001:t:");
    // qrcode's small terminal renderer draws with half blocks.
    expect(r.stdout).toMatch(/[▀▄█]{10,}/);
  });

  it("states what is missing and what to do: no onion yet, lnd wallet not initialised", async () => {
    const r = await cli(["connect", "lnd", "--manifests", join(REPO, "manifests"), "--select", select, "--root", tmp, "--host", "node.lan"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("onion \"rest\" has no address yet: tor writes /var/lib/archy/apps/tor/data/lnd-rest/hostname");
    expect(r.stdout).toContain("lnd's TLS certificate is not there yet");
    expect(r.stdout).toContain("admin.macaroon is not there yet");
  });

  it("onion entries without tor are inert, and says so", async () => {
    const s = join(tmp, "no-tor.yaml");
    writeFileSync(s, "apps: [bitcoin-knots, electrumx]\n");
    const r = await cli(["connect", "electrumx", "--manifests", join(REPO, "manifests"), "--select", s, "--root", ROOT, "--host", "node.lan", "--json"]);
    expect(JSON.parse(r.stdout).missing[0]).toMatch(/tor is not selected/);
  });

  it("an unknown app is invalid input (exit 2)", async () => {
    const r = await connect("nope");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no app "nope"');
  });
});

describe("docs/json.md", () => {
  it("documents every field of connect --json", async () => {
    const doc = readFileSync(join(REPO, "docs/json.md"), "utf8").split(/^## /m).find((s) => s.startsWith("`connect"))!;
    expect(doc).toBeDefined();
    const j = JSON.parse((await connect("lnd", "--json", "--show-secrets")).stdout);
    const rpc = JSON.parse((await connect("bitcoin-knots", "--rpc-user", "electrumx", "--json")).stdout);
    const keys = (o: unknown): string[] => (Array.isArray(o) ? o.flatMap(keys) : o && typeof o === "object" ? Object.entries(o).flatMap(([k, v]) => [k, ...keys(v)]) : []);
    for (const k of new Set([...keys(j), ...keys(rpc)])) expect(doc.includes(`\`${k}\``) || doc.includes(`"${k}"`), k).toBe(true);
  });
});
