// The shipped catalog's correctness (issue 18): network names come from the
// selection for every app that names one, credentials come from the secrets
// store (no fixed password anywhere), lnd unlocks itself from a 0600 password
// file, ElectrumX's admin RPC stays on loopback, electrs and Core Lightning
// carry a credential bitcoind's rpcauth accepts, and the UI companions' nginx
// gives their pages what the pages read.
import { createHmac } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { compile } from "../src/plan/inputs.js";
import { ReviewSecrets, SecretStore } from "../src/configs/secrets.js";
import { formatDiagnostic } from "../src/manifest/diagnostics.js";
import { cleanup, cli, readAll, tempDir, UNIT_DIR, type TreeEntry } from "./helpers/cli.js";
import { REPO } from "./helpers/quadlet.js";

const CATALOG = join(REPO, "manifests");
const NETWORKS = ["mainnet", "testnet", "testnet4", "signet", "regtest"] as const;
type Net = (typeof NETWORKS)[number];

// Written out by hand from the upstream documentation (not imported from derive.ts,
// so a wrong table there cannot agree with itself here).
const EXPECTED: Record<Net, { core: string; lnd: string; cln: string; electrs: string; nbitcoin: string }> = {
  mainnet: { core: "main", lnd: "mainnet", cln: "bitcoin", electrs: "bitcoin", nbitcoin: "mainnet" },
  testnet: { core: "test", lnd: "testnet", cln: "testnet", electrs: "testnet", nbitcoin: "testnet" },
  testnet4: { core: "testnet4", lnd: "testnet4", cln: "testnet4", electrs: "testnet4", nbitcoin: "testnet4" },
  signet: { core: "signet", lnd: "signet", cln: "signet", electrs: "signet", nbitcoin: "signet" },
  regtest: { core: "regtest", lnd: "regtest", cln: "regtest", electrs: "regtest", nbitcoin: "regtest" },
};

/** Every app whose configuration depends on the network, in one selection (no port clashes). */
const NODE = [
  "bitcoin-knots",
  "tor",
  "lnd",
  "core-lightning",
  "btcpay-server",
  "electrs",
  "jam",
  "mempool",
  "thunderhub",
  "ride-the-lightning",
  "lnbits",
  "bitcoin-ui",
  "lnd-ui",
  "electrs-ui",
];

let tmp = "";
beforeAll(() => {
  tmp = tempDir("archy-catalog-");
});
afterAll(() => cleanup(tmp));

function select(name: string, apps: string[], net: Net): string {
  const file = join(tmp, `${name}.yaml`);
  writeFileSync(file, stringify({ apps, settings: { bitcoin_network: net } }));
  return file;
}

function compiled(apps: string[], net: Net, secrets = new ReviewSecrets()) {
  const r = compile({ manifests: CATALOG, select: select(`sel-${net}-${apps.length}`, apps, net), secrets });
  expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
  return new Map(r.files.map((f) => [f.path, { text: String(f.content), mode: f.mode }]));
}

/** KEY=value lines of an environment file. */
function envOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of text.split("\n")) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(l);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Environment= values of a unit. */
function unitEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of text.split("\n")) {
    const m = /^Environment="?([A-Za-z_][A-Za-z0-9_]*)=(.*?)"?$/.exec(l);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

describe("every network × every app that names a network", () => {
  describe.each(NETWORKS)("%s", (net) => {
    const want = EXPECTED[net];
    let files: Map<string, { text: string; mode: number }>;
    const text = (p: string) => {
      const f = files.get(p);
      if (!f) throw new Error(`${p} was not generated`);
      return f.text;
    };
    beforeAll(() => {
      files = compiled(NODE, net);
    });

    it.each([
      ["bitcoin.conf chain and network section", () => {
        const conf = text("etc/archy/bitcoin-knots/bitcoin.conf");
        expect(conf).toMatch(new RegExp(`^chain=${want.core}$`, "m"));
        expect(conf).toMatch(new RegExp(`^\\[${want.core}\\]\\nrpcbind=0\\.0\\.0\\.0\\nrpcport=8332\\nbind=0\\.0\\.0\\.0:8333\\nport=8333\\n`, "m"));
      }],
      ["lnd.conf bitcoin.<net>=1", () => expect(text("etc/archy/lnd/lnd.conf")).toMatch(new RegExp(`^bitcoin\\.${want.lnd}=1$`, "m"))],
      ["Core Lightning LIGHTNINGD_NETWORK", () => expect(envOf(text("etc/archy/core-lightning/app-core-lightning.env")).LIGHTNINGD_NETWORK).toBe(want.cln)],
      ["electrs ELECTRS_NETWORK", () => expect(envOf(text("etc/archy/electrs/app-electrs.env")).ELECTRS_NETWORK).toBe(want.electrs)],
      ["BTCPay BTCPAY_NETWORK and its databases", () => {
        const e = envOf(text("etc/archy/btcpay-server/app-btcpay-server.env"));
        expect(e.BTCPAY_NETWORK).toBe(want.nbitcoin);
        expect(e.BTCPAY_POSTGRES).toMatch(new RegExp(`;Database=btcpayserver${want.nbitcoin}$`));
        expect(e.BTCPAY_EXPLORERPOSTGRES).toMatch(new RegExp(`;Database=nbxplorer${want.nbitcoin}$`));
      }],
      ["NBXplorer NBXPLORER_NETWORK, its database and the whitebind endpoint", () => {
        const e = envOf(text("etc/archy/btcpay-server/app-nbxplorer.env"));
        expect(e.NBXPLORER_NETWORK).toBe(want.nbitcoin);
        expect(e.NBXPLORER_POSTGRES).toMatch(new RegExp(`;Database=nbxplorer${want.nbitcoin}$`));
        expect(envOf(text("etc/archy/btcpay-server/bitcoin-rpc-nbxplorer.env")).NBXPLORER_BTCNODEENDPOINT).toBe("bitcoin-knots:8335");
        expect(text("etc/archy/bitcoin-knots/bitcoin.conf")).toMatch(/^whitebind=download,noban,mempool,relay@0\.0\.0\.0:8335$/m);
      }],
      ["Jam jm_network and mempool MEMPOOL_NETWORK", () => {
        expect(envOf(text("etc/archy/jam/bitcoin-rpc-jam.env")).jm_network).toBe(want.lnd);
        expect(envOf(text("etc/archy/mempool/bitcoin-rpc-api.env")).MEMPOOL_NETWORK).toBe(want.lnd);
      }],
      ["lnd's consumers read macaroons from the same path on every network", () => {
        expect(unitEnv(text(`${UNIT_DIR}/thunderhub.container`)).SSO_MACAROON_PATH).toBe("/lnd-macaroons");
        expect(unitEnv(text(`${UNIT_DIR}/ride-the-lightning.container`)).MACAROON_PATH).toBe("/lnd-macaroons");
        expect(unitEnv(text(`${UNIT_DIR}/lnbits.container`)).LND_REST_MACAROON).toBe("/lnd-macaroons/admin.macaroon");
        expect(text(`${UNIT_DIR}/lnd.container`)).toContain("--adminmacaroonpath=/macaroons/admin.macaroon");
        for (const u of ["thunderhub", "ride-the-lightning", "lnbits"]) {
          expect(text(`${UNIT_DIR}/${u}.container`)).toContain("Volume=/var/lib/archy/apps/lnd/macaroons:/lnd-macaroons:ro");
        }
      }],
    ])("%s", (_, check) => check());

    // Only a question on the other networks (on mainnet the name is expected), so
    // it is not registered there at all rather than reported as skipped.
    if (net !== "mainnet") {
      it("no generated file names mainnet", () => {
        const mentions = [...files].filter(([p, f]) => !p.startsWith("etc/archy/build/") && /\bmainnet\b|bitcoin\/mainnet/.test(f.text)).map(([p]) => p);
        expect(mentions).toEqual([]);
      });
    }
  });
});

describe("ElectrumX on networks it has no coin class for", () => {
  it.each(["signet", "testnet4"] as const)("%s: file:line:col error naming the config entry, exit 2, nothing written", async (net) => {
    const sel = select(`electrumx-${net}`, ["bitcoin-knots", "electrumx"], net);
    const out = join(tmp, `electrumx-${net}-out`);
    const r = await cli(["generate", "--manifests", "manifests", "--select", sel, "--out", out], { cwd: REPO });
    expect(r.code).toBe(2);
    const line = readFileSync(join(CATALOG, "electrumx.yaml"), "utf8").split("\n").findIndex((l) => l.includes("kind: electrumx.env")) + 1;
    expect(r.stderr).toMatch(
      new RegExp(`^manifests/electrumx\\.yaml:${line}:\\d+: error: containers\\.electrumx\\.configs\\[0\\]: ElectrumX 1\\.16\\.0 has no Bitcoin coin class for ${net} .*select electrs or fulcrum`, "m"),
    );
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(() => readdirSync(out)).toThrow();
  });

  it.each(["mainnet", "testnet", "regtest"] as const)("%s: NET follows the selection", (net) => {
    const files = compiled(["bitcoin-knots", "electrumx"], net);
    expect(envOf(files.get("etc/archy/electrumx/electrumx.env")!.text).NET).toBe(net);
  });
});

describe("ElectrumX admin RPC", () => {
  it("listens on loopback only; the health check reaches it from inside the container", () => {
    const files = compiled(["bitcoin-knots", "electrumx"], "mainnet");
    const services = envOf(files.get("etc/archy/electrumx/electrumx.env")!.text).SERVICES!.split(",");
    expect(services).toContain("rpc://127.0.0.1:8000");
    expect(services.filter((s) => s.startsWith("rpc://"))).toEqual(["rpc://127.0.0.1:8000"]);
    expect(files.get(`${UNIT_DIR}/electrumx.container`)!.text).toMatch(/^HealthCmd=.*"electrumx_rpc","-p","8000","getinfo"/m);
    expect(files.get(`${UNIT_DIR}/electrumx.container`)!.text).not.toMatch(/PublishPort=.*8000/);
  });
});

describe("no manifest carries a fixed password", () => {
  const SECRETISH = /(PASS|PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY)$/i;
  const manifests = readdirSync(CATALOG).filter((f) => f.endsWith(".yaml"));
  it.each(manifests)("%s", (file) => {
    const app = parse(readFileSync(join(CATALOG, file), "utf8")) as { containers: Record<string, { environment?: Record<string, string>; command?: string[]; entrypoint?: string[] }> };
    const found: string[] = [];
    for (const [key, c] of Object.entries(app.containers)) {
      for (const [k, v] of Object.entries(c.environment ?? {})) {
        // MARIADB_RANDOM_ROOT_PASSWORD=1 asks the image to draw a random root password.
        if (SECRETISH.test(k) && !/^MARIADB_RANDOM_ROOT_PASSWORD$/.test(k)) found.push(`${key}.environment.${k}=${v}`);
      }
      for (const w of [...(c.command ?? []), ...(c.entrypoint ?? [])]) {
        if (/-(rpc)?pass(word)?=|password=/i.test(w)) found.push(`${key}: argument ${w}`);
      }
    }
    expect(found).toEqual([]);
  });
});

describe("with a real secrets store", () => {
  let store = "";
  let out = "";
  let tree: Map<string, TreeEntry>;
  const stored = (name: string) => readFileSync(join(store, name), "utf8").trim();
  const text = (p: string) => tree.get(p)!.content.toString("utf8");

  beforeAll(async () => {
    store = join(tmp, "node", "secrets");
    out = join(tmp, "node-out");
    mkdirSync(join(tmp, "node"), { recursive: true });
    const sel = select("node", [...NODE, "nextcloud"], "regtest");
    const r = await cli(["generate", "--manifests", "manifests", "--select", sel, "--secrets", store, "--out", out], { cwd: REPO });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    tree = readAll(out);
  });

  it("creates one 0600 secret per consumer and per named app secret, 64 hex characters each", () => {
    const names = readdirSync(store).sort();
    for (const n of ["app-lnd-wallet-password", "app-ride-the-lightning-ui-password", "app-jam-ui-password", "app-mempool-db-password", "app-nextcloud-db-password", "rpc-electrs", "rpc-core-lightning"]) {
      expect(names).toContain(n);
    }
    for (const n of names) {
      expect(statSync(join(store, n)).mode & 0o777, n).toBe(0o600);
      expect(stored(n), n).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it("lnd.conf names the wallet password file lnd gets mounted; that file is 0600 and holds the stored password", () => {
    const conf = text("etc/archy/lnd/lnd.conf");
    expect(conf).toMatch(/^\[Application Options\]\nwallet-unlock-password-file=\/etc\/lnd\/wallet-password\nwallet-unlock-allow-create=true\n/m);
    const pw = tree.get("etc/archy/lnd/wallet-password")!;
    expect(pw.mode).toBe(0o600);
    expect(pw.content.toString("utf8")).toBe(stored("app-lnd-wallet-password"));
    expect(statSync(join(store, "app-lnd-wallet-password")).mode & 0o777).toBe(0o600);
    const unit = text(`${UNIT_DIR}/lnd.container`);
    expect(unit).toContain("Volume=/etc/archy/lnd/wallet-password:/etc/lnd/wallet-password:ro");
    // The wallet-init container creates the wallet with the same password.
    expect(envOf(text("etc/archy/lnd/app-wallet-init.env")).LND_WALLET_PASSWORD).toBe(stored("app-lnd-wallet-password"));
    expect(tree.get("etc/archy/lnd/app-wallet-init.env")!.mode).toBe(0o600);
  });

  it("lnd's health check passes only from RPC_ACTIVE on, through a shell (it needs a pipe)", () => {
    const unit = text(`${UNIT_DIR}/lnd.container`);
    const hc = /^HealthCmd=(.*)$/m.exec(unit)![1]!;
    const test = JSON.parse(hc) as string[];
    expect(test[0]).toBe("CMD-SHELL");
    expect(test[1]).toContain("lncli --lnddir=/data --rpcserver=localhost:10009 state");
    expect(test[1]).toContain(`grep -Eq '"(RPC|SERVER)_ACTIVE"'`);
  });

  it("RTL and Jam log-ins are store-backed, in 0600 environment files, never in their units", () => {
    for (const [app, env, secret] of [
      ["ride-the-lightning", "etc/archy/ride-the-lightning/app-ride-the-lightning.env", "app-ride-the-lightning-ui-password"],
      ["jam", "etc/archy/jam/app-jam.env", "app-jam-ui-password"],
    ] as const) {
      expect(tree.get(env)!.mode, env).toBe(0o600);
      expect(envOf(text(env)).APP_PASSWORD, env).toBe(stored(secret));
      expect(text(`${UNIT_DIR}/${app}.container`)).not.toContain(stored(secret));
      expect(text(`${UNIT_DIR}/${app}.container`)).toContain(`EnvironmentFile=/${env}`);
    }
    expect(unitEnv(text(`${UNIT_DIR}/jam.container`)).APP_USER).toBe("jam");
  });

  it("database passwords are shared within an app and differ between apps", () => {
    const nc = stored("app-nextcloud-db-password");
    expect(envOf(text("etc/archy/nextcloud/app-app.env")).MYSQL_PASSWORD).toBe(nc);
    expect(envOf(text("etc/archy/nextcloud/app-db.env")).MARIADB_PASSWORD).toBe(nc);
    const mp = stored("app-mempool-db-password");
    expect(envOf(text("etc/archy/mempool/app-api.env")).DATABASE_PASSWORD).toBe(mp);
    expect(envOf(text("etc/archy/mempool/app-db.env")).MARIADB_PASSWORD).toBe(mp);
    expect(nc).not.toBe(mp);
  });

  it("electrs' cookie and Core Lightning's config carry credentials that verify against bitcoin.conf's rpcauth", () => {
    const conf = text("etc/archy/bitcoin-knots/bitcoin.conf");
    const verify = (user: string, password: string) => {
      const m = new RegExp(`^rpcauth=${user}:([0-9a-f]{32})\\$([0-9a-f]{64})$`, "m").exec(conf);
      expect(m, `rpcauth line for ${user}`).not.toBeNull();
      expect(createHmac("sha256", m![1]!).update(password).digest("hex"), user).toBe(m![2]);
    };
    const cookie = envOf(text("etc/archy/electrs/bitcoin-rpc-electrs.env")).ARCHY_RPC_COOKIE!;
    const [eu, ep] = [cookie.slice(0, cookie.indexOf(":")), cookie.slice(cookie.indexOf(":") + 1)];
    expect(eu).toBe("electrs");
    verify(eu, ep);
    expect(text(`${UNIT_DIR}/electrs.container`)).toMatch(/exec electrs --cookie-file \/tmp\/rpc\.cookie/);

    const cln = text("etc/archy/core-lightning/cln.conf");
    expect(tree.get("etc/archy/core-lightning/cln.conf")!.mode).toBe(0o600);
    const opt = (k: string) => new RegExp(`^${k}=(.*)$`, "m").exec(cln)![1]!;
    expect(opt("bitcoin-rpcconnect")).toBe("bitcoin-knots");
    verify(opt("bitcoin-rpcuser"), opt("bitcoin-rpcpassword"));
    const unit = text(`${UNIT_DIR}/core-lightning.container`);
    expect(unit).toContain("Volume=/etc/archy/core-lightning/cln.conf:/etc/lightning/cln.conf:ro");
    expect(unit).toMatch(/--conf=\/etc\/lightning\/cln\.conf/);
    expect(unit).not.toMatch(/bitcoin-rpcpassword|bitcoin-rpcuser/);
  });

  it("no stored value appears in a unit or in any file that is not 0600", () => {
    const values = readdirSync(store).map((n) => stored(n));
    for (const [path, f] of tree) {
      if (f.mode === 0o600 && !path.startsWith(UNIT_DIR)) continue;
      const s = f.content.toString("utf8");
      expect(values.filter((v) => s.includes(v)), path).toEqual([]);
    }
  });
});

describe("users and data ownership", () => {
  const files = () => compiled(["bitcoin-knots", "lnd", "thunderhub", "nostr-rs-relay", "electrs"], "mainnet");
  it("thunderhub runs as 1000:1000 with its data dir owned by 1000; lnd writes new files with group 1000", () => {
    const f = files();
    const th = f.get(`${UNIT_DIR}/thunderhub.container`)!.text;
    expect(th).toMatch(/^User=1000:1000$/m);
    expect(th).toContain("ExecStartPre=/usr/bin/install -d -o 1000 -g 1000 /var/lib/archy/apps/thunderhub/data");
    expect(f.get(`${UNIT_DIR}/lnd.container`)!.text).toMatch(/^User=0:1000$/m);
  });

  it("nostr-rs-relay's command names the binary (the image has no ENTRYPOINT)", () => {
    const unit = files().get(`${UNIT_DIR}/nostr-rs-relay.container`)!.text;
    expect(unit).toMatch(/^Exec=\/usr\/src\/app\/nostr-rs-relay --db \/usr\/src\/app\/db$/m);
    expect(unit).not.toMatch(/^Entrypoint=/m);
  });
});

describe("UI companions", () => {
  const IDS: Record<string, string[]> = {
    "bitcoin-ui": ["status", "error", "chain", "blocks", "headers", "progress", "peers", "impl", "version", "updated"],
    "lnd-ui": ["status", "error", "lnd-error", "lnd-state", "lnd-ready", "wallet", "chain", "blocks", "headers", "progress", "peers", "impl"],
    "electrs-ui": ["status", "error", "electrs-error", "index-height", "index-progress", "index-state", "chain", "blocks", "headers", "progress", "connect"],
  };
  it.each(Object.entries(IDS))("%s: the page has an element for every value it shows and an explicit error state", (id, ids) => {
    const dir = join(CATALOG, "build", id);
    const html = readFileSync(join(dir, "index.html"), "utf8");
    for (const i of ids) expect(html, i).toMatch(new RegExp(`id="${i}"`));
    expect(html).toContain('data-state="loading"');
    const js = readFileSync(join(dir, "app.js"), "utf8");
    expect(js).toContain('fetch("/bitcoin-rpc/"');
    expect(js).toContain('dataset.state = ');
    expect(js).toMatch(/"error"/);
    // Every file the page loads is copied into the image.
    const containerfile = readFileSync(join(dir, "Containerfile"), "utf8");
    for (const f of ["index.html", "app.js", "style.css"]) expect(containerfile).toContain(f);
  });

  it("each nginx.conf proxies what its page reads, POST-only for bitcoind, with the UI's own credentials", () => {
    const f = compiled(["bitcoin-knots", "lnd", "electrs", "bitcoin-ui", "lnd-ui", "electrs-ui"], "regtest");
    const conf = (id: string) => f.get(`etc/archy/${id}/nginx.conf`)!.text;
    for (const id of ["bitcoin-ui", "lnd-ui", "electrs-ui"]) {
      const block = /location \/bitcoin-rpc\/ \{\n([^}]*\}[^}]*)\}/.exec(conf(id))?.[1] ?? "";
      expect(block).toMatch(/^\s+limit_except POST \{ deny all; \}$/m);
      expect(block).toMatch(/^\s+client_max_body_size 16k;$/m);
      // bitcoind's container, named literally or through a variable the resolver looks up per request.
      expect(block).toMatch(/proxy_pass http:\/\/bitcoin-knots:8332\/;|set \$(\w+) bitcoin-knots;[^]*proxy_pass http:\/\/\$\1:8332;/);
      expect(block).toMatch(/^\s+proxy_set_header Authorization "Basic [A-Za-z0-9+/=]+";$/m);
      const auth = /Basic ([A-Za-z0-9+/=]+)/.exec(conf(id))![1]!;
      expect(Buffer.from(auth, "base64").toString().split(":")[0]).toBe(id);
    }
    expect(conf("lnd-ui")).toContain("location = /lnd/v1/state {");
    expect(conf("lnd-ui")).toMatch(/proxy_pass https:\/\/lnd:8080\/v1\/state;|set \$(\w+) lnd;\n\s+proxy_pass https:\/\/\$\1:8080\/v1\/state;/);
    expect(conf("electrs-ui")).toContain("location = /electrs/metrics {");
    expect(conf("electrs-ui")).toMatch(/proxy_pass http:\/\/electrs:4224\/;|set \$(\w+) electrs;\n\s+proxy_pass http:\/\/\$\1:4224\/;/);
    expect(conf("bitcoin-ui")).not.toMatch(/\/lnd\/|\/electrs\//);
    // Only read-only calls are whitelisted for the UIs.
    const bconf = f.get("etc/archy/bitcoin-knots/bitcoin.conf")!.text;
    expect(bconf).toMatch(/^rpcwhitelist=bitcoin-ui:getblockchaininfo,getmempoolinfo,getnetworkinfo$/m);
  });
});

describe("templates and the new config options are checked", () => {
  const btc = { id: "btc", name: "B", version: "1", kind: "service", description: "d", provides: { role: "bitcoin" }, containers: { btc: { image: "docker.io/library/busybox:1", configs: [{ kind: "bitcoin.conf", mount: "/b.conf" }] } } };
  const app = (configs: unknown[], extra: Record<string, unknown> = {}) => ({
    id: "web",
    name: "W",
    version: "1",
    kind: "service",
    description: "d",
    bitcoin_rpc: {},
    dependencies: { bitcoin: {} },
    ...extra,
    containers: { web: { image: "docker.io/library/busybox:1", configs } },
  });
  let n = 0;
  async function run(web: unknown): Promise<{ code: number; stderr: string }> {
    const dir = join(tmp, `tpl-${n++}`);
    mkdirSync(join(dir, "manifests"), { recursive: true });
    writeFileSync(join(dir, "manifests/btc.yaml"), stringify(btc));
    writeFileSync(join(dir, "manifests/web.yaml"), stringify(web));
    const r = await cli(["generate", "--manifests", "manifests", "--out", "out"], { cwd: dir });
    expect(() => readdirSync(join(dir, "out"))).toThrow();
    return r;
  }
  it.each([
    ["an unknown network scheme", app([{ kind: "app.env", env: { N: "{{network.bogus}}" } }]), "containers.web.configs[0].env.N: template slots are"],
    ["an upper-case secret name", app([{ kind: "app.env", env: { P: "{{secret.DB}}" } }]), "containers.web.configs[0].env.P: template slots are"],
    ["a stray brace pair", app([{ kind: "app.env", env: { P: "x{{secret.db}}}}" } }]), "template slots are"],
    ["no slot at all in app.env", app([{ kind: "app.env", env: { P: "plain" } }]), "a template needs at least one"],
    ["an RPC value in app.env", app([{ kind: "app.env", env: { P: "password" } }]), "containers.web.configs[0].env.P: \"password\" is a Bitcoin RPC value"],
    ["wallet_password on another kind", app([{ kind: "bitcoin-rpc.env", env: { U: "user" }, wallet_password: "/pw" }]), "`wallet_password` only applies to kind lnd.conf"],
    ["p2p_whitebind without whitebind", app([{ kind: "bitcoin-rpc.env", env: { P2P: "p2p_whitebind" } }]), "p2p_whitebind needs `bitcoin_rpc: { whitebind: true }`"],
    ["an unknown deprecatedrpc", app([], { bitcoin_rpc: { deprecatedrpc: ["anything"] } }), "bitcoin_rpc.deprecatedrpc[0]"],
  ])("%s: a diagnostic at the field, exit 2, nothing written", async (_, web, message) => {
    const r = await run(web);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^manifests\/web\.yaml:\d+:\d+: error: /m);
    expect(r.stderr).toContain(message);
  });
});
