// Derived configs: a pure function of (graph, secrets) → files + what each
// container mounts. Every credential comes from one canonical secret per
// consuming app, so bitcoin.conf and its consumers can never disagree;
// bitcoin.conf lists every consumer of the catalog, so the selection never changes it.
import { createHash } from "node:crypto";
import type { Graph, ContainerNode } from "../graph/graph.js";
import type { LoadedApp } from "../manifest/read.js";
import { cmp, type Diagnostic } from "../manifest/diagnostics.js";
import { RPC_ENV_VALUES, type ConfigEntry, type ConfigKind, NETWORK_SCHEMES } from "../manifest/schema.js";
import { CONFIG_ROOT, NETWORK, header, type ContainerConfigs, type OutputFile } from "../lower/lower.js";
import type { SecretSource } from "./secrets.js";
import { rpcauthLine } from "./rpcauth.js";
import { adoptedRpcauth } from "../adopt/rpc-users.js";
import { line, renderConfig } from "./render.js";
import { configSettings, settingValue, show } from "../settings/resolve.js";
import { CONTROL_SECRET, bitcoinTorLines, lndTorSection, torNode, torrcContent, usesTor } from "./tor.js";
import bitcoinConf from "../../templates/bitcoin.conf.hbs";
import lndConf from "../../templates/lnd.conf.hbs";
import electrumxEnv from "../../templates/electrumx.env.hbs";
import nginxConf from "../../templates/nginx.conf.hbs";
import clnConf from "../../templates/cln.conf.hbs";
import containersConf from "../../templates/containers.conf.hbs";

export { CONTAINERS_CONF_DROPIN } from "../lower/paths.js";
import { CONTAINERS_CONF_DROPIN } from "../lower/paths.js";
export const BITCOIN_ROLE = "bitcoin";

export const rpcSecretName = (appId: string) => `rpc-${appId}`;
/** A per-app secret named in a template ({{secret.<name>}}) or the lnd wallet password. */
export const appSecretName = (appId: string, name: string) => `app-${appId}-${name}`;
export const WALLET_SECRET = "wallet-password";

export type Network = "mainnet" | "testnet" | "testnet4" | "signet" | "regtest";
export type NetworkScheme = (typeof NETWORK_SCHEMES)[number];

/**
 * The selection's network as each upstream spells it:
 * - core: bitcoin.conf `chain=` and section names (Bitcoin Core doc/bitcoin-conf.md)
 * - lnd: `bitcoin.<net>=1` and data/chain/bitcoin/<net> (lnd sample-lnd.conf)
 * - cln: `--network` / LIGHTNINGD_NETWORK (core-lightning doc lightningd-config.5.md)
 * - electrs: ELECTRS_NETWORK (romanz/electrs internal/config_specification.toml)
 * - nbitcoin: BTCPAY_NETWORK / NBXPLORER_NETWORK (NBitcoin ChainName; Umbrel btcpay-server/docker-compose.yml)
 */
export const NETWORK_NAMES: Record<Network, Record<NetworkScheme, string>> = {
  mainnet: { core: "main", lnd: "mainnet", cln: "bitcoin", electrs: "bitcoin", nbitcoin: "mainnet" },
  testnet: { core: "test", lnd: "testnet", cln: "testnet", electrs: "testnet", nbitcoin: "testnet" },
  testnet4: { core: "testnet4", lnd: "testnet4", cln: "testnet4", electrs: "testnet4", nbitcoin: "testnet4" },
  signet: { core: "signet", lnd: "signet", cln: "signet", electrs: "signet", nbitcoin: "signet" },
  regtest: { core: "regtest", lnd: "regtest", cln: "regtest", electrs: "regtest", nbitcoin: "regtest" },
};

/** ElectrumX 1.16 (electrumx/lib/coins.py) has Bitcoin coin classes for mainnet, testnet and regtest only. */
export const ELECTRUMX_NET: Partial<Record<Network, string>> = { mainnet: "mainnet", testnet: "testnet", regtest: "regtest" };

/** Every network lands on the same ports, so aliases, published ports and consumers never depend on it. */
export const P2P_PORT = 8333;
/** bitcoind's RPC port unless the provider's `rpc_port` setting says otherwise. */
export const RPC_PORT = 8332;
export const WHITEBIND_PORT = 8335;

interface Net {
  name: Network;
  names: Record<NetworkScheme, string>;
}

const FILE_NAME: Record<ConfigKind, string> = {
  "bitcoin.conf": "bitcoin.conf",
  "lnd.conf": "lnd.conf",
  "electrumx.env": "electrumx.env",
  "nginx.conf": "nginx.conf",
  "bitcoin-rpc.env": "bitcoin-rpc.env",
  "app.env": "app.env",
  "cln.conf": "cln.conf",
  torrc: "torrc",
};

export interface Derived {
  files: OutputFile[];
  containers: Map<string, ContainerConfigs>;
}

export function deriveConfigs(g: Graph, secrets: SecretSource, diags: Diagnostic[], ips: Map<string, string> = new Map()): Derived {
  const name: Network = g.selection?.settings.bitcoin_network ?? "mainnet";
  const net: Net = { name, names: NETWORK_NAMES[name] };
  const providerId = g.roles.get(BITCOIN_ROLE);
  const bitcoinHost = providerId ? bitcoinContainer(g, providerId) : undefined;
  const consumers = g.apps.filter((a) => a.app.bitcoin_rpc).sort((a, b) => cmp(a.app.id, b.app.id));
  // bitcoin.conf carries an rpcauth line for every consumer in the catalog, selected or
  // not: installing or removing one never changes bitcoind's inputs, so never restarts it.
  // An unselected consumer's password exists only in the secrets store until it is installed.
  const rpcUsers = g.catalog.filter((a) => a.app.bitcoin_rpc).sort((a, b) => cmp(a.app.id, b.app.id));
  const rpcPort = String(settingValue(g.settings, providerId, "rpc_port") ?? RPC_PORT);
  if (rpcPort !== String(RPC_PORT)) checkFixedRpcPort(g, rpcPort, diags);

  for (const c of consumers) {
    if (!providerId) diags.push({ file: c.file, path: "bitcoin_rpc", message: `app "${c.app.id}" consumes Bitcoin RPC, but no bitcoin implementation (role "${BITCOIN_ROLE}", e.g. bitcoin-knots or bitcoin-core) is selected` });
  }
  const creds = new Map<string, string>();
  if (providerId) {
    for (const c of rpcUsers) {
      const pass = secrets.get(rpcSecretName(c.app.id), diags);
      if (pass) creds.set(c.app.id, pass);
    }
  }

  const files = new Map<string, OutputFile>();
  const containers = new Map<string, ContainerConfigs>();
  const add = (f: OutputFile) => files.set(f.path, f);

  for (const n of g.containers) {
    const entries = n.spec.configs ?? [];
    if (entries.length === 0) continue;
    const cc: ContainerConfigs = { mounts: [], envFiles: [] };
    const hash = createHash("sha256");
    entries.forEach((e, i) => {
      const where = { file: n.file, path: `containers.${n.key}.configs[${i}]` };
      // The env files' variables are chosen per container, so they are per container too.
      const name = e.kind === "bitcoin-rpc.env" || e.kind === "app.env" ? `${e.kind.slice(0, -4)}-${n.key}.env` : FILE_NAME[e.kind];
      const rel = `${CONFIG_ROOT.slice(1)}/${n.app.id}/${name}`;
      const made = makeConfig(e, n, { g, net, creds, secrets, bitcoinHost, rpcUsers, ips, rpcPort }, where, diags);
      if (!made) return;
      add({ path: rel, content: made.content, mode: made.secret ? 0o600 : 0o644, source: n.file, secret: made.secret });
      hash.update(`${rel}\0${made.content}\0`);
      for (const x of made.extra ?? []) {
        const xrel = `${CONFIG_ROOT.slice(1)}/${n.app.id}/${x.name}`;
        add({ path: xrel, content: x.content, mode: 0o600, source: n.file, secret: true });
        hash.update(`${xrel}\0${x.content}\0`);
        cc.mounts.push({ host: `/${xrel}`, target: x.mount });
      }
      if (e.kind.endsWith(".env")) {
        if (e.mount) diags.push({ ...where, message: `${e.kind} is passed as an environment file; remove \`mount\`` });
        cc.envFiles.push(`/${rel}`);
      } else if (!e.mount) {
        diags.push({ ...where, path: `${where.path}.mount`, message: `${e.kind} needs a \`mount\` path inside the container` });
      } else cc.mounts.push({ host: `/${rel}`, target: e.mount });
    });
    cc.hash = `sha256:${hash.digest("hex").slice(0, 16)}`;
    containers.set(n.name, cc);
  }

  add({
    path: CONTAINERS_CONF_DROPIN,
    // Without it host.containers.internal resolved to the LAN gateway on nodes.
    content: renderConfig(containersConf, { gateway: NETWORK.gateway }),
    mode: 0o644,
  });
  return { files: [...files.values()], containers };
}

function bitcoinContainer(g: Graph, providerId: string): string {
  const nodes = g.containers.filter((n) => n.app.id === providerId);
  const withConf = nodes.find((n) => n.spec.configs?.some((c) => c.kind === "bitcoin.conf"));
  return (withConf ?? nodes[0]!).name;
}

interface Ctx {
  g: Graph;
  net: Net;
  creds: Map<string, string>;
  secrets: SecretSource;
  bitcoinHost?: string;
  /** Every Bitcoin RPC consumer of the catalog, selected or not: bitcoin.conf's rpcauth users. */
  rpcUsers: LoadedApp[];
  /** Stable addresses for Tor's targets (src/lower/ip.ts); set only with tor selected. */
  ips: Map<string, string>;
  /** bitcoind's RPC port (the provider's rpc_port setting). */
  rpcPort: string;
}

/** The tor control password (one store secret of the tor app), when `n`'s app uses Tor and has a stable address. */
function torFor(n: ContainerNode, ctx: Ctx, diags: Diagnostic[]): { ip: string; password: string } | undefined {
  const tor = torNode(ctx.g);
  const ip = ctx.ips.get(n.name);
  if (!tor || !ip || !usesTor(ctx.g, n.app.id)) return undefined;
  const password = ctx.secrets.get(appSecretName(tor.app.id, CONTROL_SECRET), diags);
  return password === undefined ? undefined : { ip, password };
}

interface Made {
  content: string;
  secret: boolean;
  /** Further secret files the same entry mounts (lnd's wallet password). */
  extra?: { name: string; content: string; mount: string }[];
}

/** The first container of an app: the one keyed like the app, else the first by name. */
function mainContainer(g: Graph, appId: string): string | undefined {
  const nodes = g.containers.filter((c) => c.app.id === appId);
  return (nodes.find((c) => c.key === appId) ?? [...nodes].sort((a, b) => cmp(a.name, b.name))[0])?.name;
}

/** Fill {{network.<scheme>}} and {{secret.<name>}} slots (the schema has checked their names). */
function fillTemplate(t: string, n: ContainerNode, ctx: Ctx, diags: Diagnostic[]): { value: string; secret: boolean } | undefined {
  let secret = false;
  let failed = false;
  const value = t.replace(/\{\{([^{}]*)\}\}/g, (_, slot: string) => {
    const [kind, arg] = [slot.slice(0, slot.indexOf(".")), slot.slice(slot.indexOf(".") + 1)];
    if (kind === "network") return ctx.net.names[arg as NetworkScheme];
    secret = true;
    const v = ctx.secrets.get(appSecretName(n.app.id, arg), diags);
    if (v === undefined) failed = true;
    return v ?? "";
  });
  return failed ? undefined : { value, secret };
}

const RPC_WORDS: ReadonlySet<string> = new Set(RPC_ENV_VALUES);

function makeConfig(entry: ConfigEntry, n: ContainerNode, ctx: Ctx, where: { file: string; path: string }, diags: Diagnostic[]): Made | undefined {
  const head = header(n.file)[0]!;
  const kind = entry.kind;
  if (entry.env && kind !== "bitcoin-rpc.env" && kind !== "app.env") {
    diags.push({ ...where, path: `${where.path}.env`, message: "`env` only applies to kinds bitcoin-rpc.env and app.env" });
    return undefined;
  }
  if (entry.wallet_password && kind !== "lnd.conf") {
    diags.push({ ...where, path: `${where.path}.wallet_password`, message: "`wallet_password` only applies to kind lnd.conf" });
    return undefined;
  }
  if (kind === "app.env") return appEnv(entry, n, ctx, head, where, diags);
  if (kind === "torrc") {
    const password = ctx.secrets.get(appSecretName(n.app.id, CONTROL_SECRET), diags);
    if (password === undefined) return undefined;
    const content = torrcContent(ctx.g, n, ctx.ips, password, head, NETWORK.subnet, diags, where);
    // Only the password's salted hash is in it.
    return content === undefined ? undefined : { content, secret: false };
  }
  if (kind === "bitcoin.conf") {
    if (n.app.provides?.role !== BITCOIN_ROLE) {
      diags.push({ ...where, message: `bitcoin.conf can only be consumed by an app that provides role "${BITCOIN_ROLE}"` });
      return undefined;
    }
    const rpc: string[] = [];
    const whitelists: string[] = [];
    const deprecated = new Set<string>();
    let whitebind = false;
    for (const { app } of ctx.rpcUsers) {
      const id = app.id;
      const pass = ctx.creds.get(id);
      if (!pass) continue;
      rpc.push(rpcauthLine(id, pass));
      const spec = app.bitcoin_rpc!;
      const wl = spec.whitelist;
      if (wl?.length) whitelists.push(`rpcwhitelist=${id}:${[...new Set(wl)].sort(cmp).join(",")}`);
      for (const d of spec.deprecatedrpc ?? []) deprecated.add(d);
      if (spec.whitebind) whitebind = true;
    }
    // Clients outside the catalog (an adopted node's wallets, the dashboard daemon): docs/adopt.md.
    rpc.push(...adoptedRpcauth(ctx.g.selection, ctx.secrets, diags));
    // With any whitelist present bitcoind denies every other user by default.
    const lines = [
      ...(whitelists.length ? ["rpcwhitelistdefault=0"] : []),
      ...rpc,
      ...whitelists,
      ...[...deprecated].sort(cmp).map((d) => `deprecatedrpc=${d}`),
    ];
    // Listening: the same P2P port on every network (aliases and published ports do not
    // change); an explicit bind, because any whitebind disables bitcoind's default one.
    const section = [`bind=0.0.0.0:${P2P_PORT}`, `port=${P2P_PORT}`, ...(whitebind ? [`whitebind=download,noban,mempool,relay@0.0.0.0:${WHITEBIND_PORT}`] : [])];
    // Tor (docs/tor.md): outbound through tor's SOCKS port, an onion for inbound peers
    // created over the control port, forwarding to this container's stable address.
    // bitcoind drops to its own user and must read the file: it stays 0644 with the
    // control password in it (the control port is reachable on the archy network only).
    const tor = torFor(n, ctx, diags);
    if (tor) section.push(...bitcoinTorLines());
    const { settings, options } = configSettings(ctx.g.settings ?? new Map(), n.app.id, "bitcoin.conf");
    if (!checkPruneTxindex(ctx.g, n.app.id, diags)) return undefined;
    return {
      content: renderConfig(bitcoinConf, {
        header: head,
        chain: ctx.net.names.core,
        subnet: NETWORK.subnet,
        // A provider that declares neither still gets today's file.
        settings: { txindex: "1", rpc_port: String(RPC_PORT), ...settings },
        options,
        rpc_lines: lines,
        section: ctx.net.names.core,
        section_lines: section,
      }),
      secret: false,
    };
  }
  const pass = ctx.creds.get(n.app.id);
  if (!n.app.bitcoin_rpc) {
    diags.push({ ...where, message: `${kind} carries Bitcoin RPC credentials; declare \`bitcoin_rpc: {}\` on app "${n.app.id}"` });
    return undefined;
  }
  if (!pass || !ctx.bitcoinHost) return undefined; // already reported
  const common = { header: head, bitcoin_host: ctx.bitcoinHost, rpc_port: ctx.rpcPort };
  switch (kind) {
    case "lnd.conf": {
      const appOptions: string[] = [];
      let extra: Made["extra"];
      if (entry.wallet_password) {
        const pw = ctx.secrets.get(appSecretName(n.app.id, WALLET_SECRET), diags, "password"); // an adopted wallet keeps its own password
        if (pw === undefined) return undefined;
        // lnd unlocks itself from this file at every start; with allow-create it waits for
        // the wallet to be created (by the app's wallet-init container) instead of exiting.
        appOptions.push(`wallet-unlock-password-file=${entry.wallet_password}`, "wallet-unlock-allow-create=true");
        // The bare password: lnd reads the whole file as the password (no header line).
        extra = [{ name: WALLET_SECRET, content: pw, mount: entry.wallet_password }];
      }
      const tor = torFor(n, ctx, diags);
      // The [tor] section's lines, its closing empty line included.
      const torLines = tor ? lndTorSection(tor.ip, tor.password).split("\n").slice(0, -1) : [];
      // lnd's settings with an option name: bitcoin.* under [Bitcoin], the rest under [Application Options].
      const { options } = configSettings(ctx.g.settings ?? new Map(), n.app.id, "lnd.conf");
      const bitcoinOptions = options.filter((o) => o.name.startsWith("bitcoin.")).map((o) => `${o.name}=${o.value}`);
      appOptions.push(...options.filter((o) => !o.name.startsWith("bitcoin.")).map((o) => `${o.name}=${o.value}`));
      // With tor.active lnd resolves host names through Tor, which knows nothing of the
      // archy network: bitcoind's RPC and ZMQ endpoints go by its stable address then.
      const bitcoinAt = (tor && ctx.ips.get(ctx.bitcoinHost)) || ctx.bitcoinHost;
      return {
        content: renderConfig(lndConf, { ...common, bitcoin_host: bitcoinAt, app_options: appOptions, tor_lines: torLines, bitcoin_options: bitcoinOptions, network: ctx.net.names.lnd, rpc_user: n.app.id, rpc_pass: pass }),
        secret: true,
        extra,
      };
    }
    case "electrumx.env": {
      const net = ELECTRUMX_NET[ctx.net.name];
      if (!net) {
        diags.push({
          ...where,
          message: `ElectrumX ${n.app.version} has no Bitcoin coin class for ${ctx.net.name} (electrumx/lib/coins.py: mainnet, testnet and regtest only); select electrs or fulcrum for ${ctx.net.name}`,
        });
        return undefined;
      }
      return { content: renderConfig(electrumxEnv, { ...common, net, rpc_user: n.app.id, rpc_pass: pass }), secret: true };
    }
    case "cln.conf":
      return { content: renderConfig(clnConf, { ...common, rpc_user: n.app.id, rpc_pass: pass }), secret: true };
    case "bitcoin-rpc.env": {
      if (!entry.env || Object.keys(entry.env).length === 0) {
        diags.push({ ...where, path: `${where.path}.env`, message: `bitcoin-rpc.env needs \`env\`: variable name → ${RPC_ENV_VALUES.join(" | ")} (or a template)` });
        return undefined;
      }
      const values: Record<(typeof RPC_ENV_VALUES)[number], string> = {
        user: n.app.id,
        password: pass,
        host: ctx.bitcoinHost,
        port: ctx.rpcPort,
        url: `http://${n.app.id}:${pass}@${ctx.bitcoinHost}:${ctx.rpcPort}/`,
        network: ctx.net.names.lnd,
        zmq_block: `tcp://${ctx.bitcoinHost}:28332`,
        zmq_tx: `tcp://${ctx.bitcoinHost}:28333`,
        cookie: `${n.app.id}:${pass}`,
        p2p_whitebind: `${ctx.bitcoinHost}:${WHITEBIND_PORT}`,
      };
      if (Object.values(entry.env).includes("p2p_whitebind") && !n.app.bitcoin_rpc.whitebind) {
        diags.push({ ...where, path: `${where.path}.env`, message: "p2p_whitebind needs `bitcoin_rpc: { whitebind: true }` on the app, or bitcoind has no whitebind port" });
        return undefined;
      }
      let body = "";
      for (const [k, v] of Object.entries(entry.env).sort((a, b) => cmp(a[0], b[0]))) {
        if (RPC_WORDS.has(v)) body += `${k}=${line(values[v as keyof typeof values])}\n`;
        else {
          const f = fillTemplate(v, n, ctx, diags);
          if (!f) return undefined;
          body += `${k}=${line(f.value)}\n`;
        }
      }
      return { content: `# ${head}\n${body}`, secret: true };
    }
    case "nginx.conf":
      return {
        content: renderConfig(nginxConf, { ...common, dns: NETWORK.gateway, basic_auth: Buffer.from(`${n.app.id}:${pass}`).toString("base64"), ...uiLocations(n, ctx) }),
        secret: true,
      };
  }
}

/** app.env: templates only (network names and per-app secrets); 0600 when a secret is in it. */
function appEnv(entry: ConfigEntry, n: ContainerNode, ctx: Ctx, head: string, where: { file: string; path: string }, diags: Diagnostic[]): Made | undefined {
  if (!entry.env || Object.keys(entry.env).length === 0) {
    diags.push({ ...where, path: `${where.path}.env`, message: "app.env needs `env`: variable name → template, e.g. BTCPAY_NETWORK: \"{{network.nbitcoin}}\" or DB_PASSWORD: \"{{secret.db}}\"" });
    return undefined;
  }
  let body = "";
  let secret = false;
  for (const [k, v] of Object.entries(entry.env).sort((a, b) => cmp(a[0], b[0]))) {
    if (RPC_WORDS.has(v)) {
      diags.push({ ...where, path: `${where.path}.env.${k}`, message: `"${v}" is a Bitcoin RPC value: use kind bitcoin-rpc.env for it (app.env takes templates)` });
      return undefined;
    }
    const f = fillTemplate(v, n, ctx, diags);
    if (!f) return undefined;
    secret ||= f.secret;
    body += `${k}=${line(f.value)}\n`;
  }
  return { content: `# ${head}\n${body}`, secret };
}

/**
 * What a UI companion's nginx proxies besides /bitcoin-rpc/ (templates/nginx.conf.hbs):
 * lnd's unauthenticated REST state for an app depending on lnd, electrs'
 * Prometheus metrics for one depending on electrs (their container names, or false).
 */
function uiLocations(n: ContainerNode, ctx: Ctx): { lnd: string | false; electrs: string | false } {
  const deps = new Set((ctx.g.appDeps.get(n.app.id) ?? []).map((d) => d.id));
  return {
    lnd: (deps.has("lnd") && mainContainer(ctx.g, "lnd")) || false,
    electrs: (deps.has("electrs") && mainContainer(ctx.g, "electrs")) || false,
  };
}

/** bitcoind refuses to start with both ("Prune mode is incompatible with -txindex"). */
function checkPruneTxindex(g: Graph, appId: string, diags: Diagnostic[]): boolean {
  const s = g.settings?.get(appId);
  const prune = s?.get("prune");
  const txindex = s?.get("txindex");
  if (!prune || !txindex || prune.value === 0 || txindex.value !== true) return true;
  const o = prune.origin.kind === "selection" ? prune.origin : txindex.origin.kind === "selection" ? txindex.origin : undefined;
  const a = g.apps.find((x) => x.app.id === appId)!;
  diags.push({
    file: o?.file ?? a.file,
    ...(o?.line !== undefined ? { line: o.line, col: o.col } : {}),
    path: o ? `app_settings.${o.key}.${o === prune.origin ? "prune" : "txindex"}` : "settings.prune",
    message: `prune ${show(prune.value)} with txindex ${show(txindex.value)}: bitcoind refuses to start with both; set txindex: false to prune`,
  });
  return false;
}

/**
 * Apps that name bitcoind's RPC port literally in their environment (host:8332)
 * would not follow a changed rpc_port: refuse the combination instead.
 */
function checkFixedRpcPort(g: Graph, port: string, diags: Diagnostic[]): void {
  for (const n of g.containers) {
    for (const [k, v] of Object.entries(n.spec.environment ?? {})) {
      if (/:8332\b/.test(v)) {
        diags.push({
          file: n.file,
          path: `containers.${n.key}.environment.${k}`,
          message: `reaches bitcoind's RPC at the fixed port 8332, but the selection sets rpc_port ${port}: remove ${n.app.id} from the selection or keep rpc_port 8332`,
        });
      }
    }
  }
}
