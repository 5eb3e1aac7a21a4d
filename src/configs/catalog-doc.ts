// docs/catalog.md, generated from the manifests: per app its image, user, data
// paths, credentials, health check, network handling and the upstream files the
// manifest cites. test/catalog-doc.test.ts keeps the committed file current
// (UPDATE_CATALOG_DOC=1 rewrites it).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isMap, isPair, isScalar, parseDocument, type Document } from "yaml";
import { readManifestDir } from "../manifest/read.js";
import { cmp, formatDiagnostic, type Diagnostic } from "../manifest/diagnostics.js";
import { RPC_ENV_VALUES, type App, type ConfigEntry, type Container } from "../manifest/schema.js";
import { containerName } from "../graph/graph.js";
import { CONFIG_ROOT, DATA_ROOT } from "../lower/paths.js";
import { ELECTRUMX_NET, NETWORK_NAMES, WALLET_SECRET, appSecretName, rpcSecretName } from "./derive.js";

const RPC_WORDS: ReadonlySet<string> = new Set(RPC_ENV_VALUES);
const SECRETS_DIR = "/var/lib/archy/secrets";

const INTRO = `# The catalog

Generated from \`manifests/*.yaml\` by \`src/configs/catalog-doc.ts\` — do not edit; run
\`UPDATE_CATALOG_DOC=1 npx vitest run test/catalog-doc.test.ts\` after changing a manifest.
Each app's "Upstream" lines are the manifest's own comment block: the upstream files that
settle its non-obvious choices, to re-check at the next version bump.

## Conventions

- **Secrets** live in the store (\`${SECRETS_DIR}\`, dir 0700, files 0600, 64 hex characters
  from a CSPRNG, created once, never regenerated): \`rpc-<app>\` is an app's bitcoind RPC
  password (bitcoin.conf carries only its \`rpcauth=\` hash), \`app-<app>-<name>\` a per-app
  secret a manifest names as \`{{secret.<name>}}\`. They reach containers only through 0600
  files under \`/etc/archy/<app>/\` (environment files or read-only bind mounts), never unit
  files, logs or diffs.
- **Network**: the selection's \`bitcoin_network\` reaches each app spelled the way its
  upstream spells it, through the derived files (\`{{network.<scheme>}}\` in \`app.env\` and
  \`bitcoin-rpc.env\`, \`lnd.conf\`, \`bitcoin.conf\`, \`electrumx.env\`). Schemes:

| network | core | lnd | cln | electrs | nbitcoin | ElectrumX NET |
| --- | --- | --- | --- | --- | --- | --- |
${Object.entries(NETWORK_NAMES)
  .map(([net, n]) => `| ${net} | ${n.core} | ${n.lnd} | ${n.cln} | ${n.electrs} | ${n.nbitcoin} | ${ELECTRUMX_NET[net as keyof typeof ELECTRUMX_NET] ?? "refused (no coin class in 1.16)"} |`)
  .join("\n")}

  bitcoind listens on the same ports on every network (RPC 8332, P2P 8333, whitebind 8335,
  ZMQ 28332/28333), so aliases, published ports and consumers never depend on it.

## Decisions

- **lnd wallet.** The wallet password is the store's \`app-lnd-wallet-password\`; lnd.conf
  sets \`wallet-unlock-password-file\` (a 0600 bind mount) and \`wallet-unlock-allow-create\`, so
  lnd unlocks itself after every restart. The \`lnd-wallet-init\` container creates the wallet
  once when lnd reports \`NON_EXISTING\`: it asks lnd for a seed (\`/v1/genseed\`), writes the
  24 words to \`${DATA_ROOT}/lnd/seed/seed.txt\` (0600) **before** calling \`/v1/initwallet\` with
  the stored password. Back that file up; it is the only copy of the seed. lnd's
  unauthenticated wallet-creation window lasts until that container's next 10 s poll.
- **lnd health** passes from \`RPC_ACTIVE\` on (\`SERVER_ACTIVE\` is the later state): the
  wallet exists, is unlocked and the macaroons are written — what RTL, ThunderHub, LNbits
  and BTCPay need before they start. Waiting for \`SERVER_ACTIVE\` would keep lnd "starting"
  for the whole initial block download of bitcoind, and systemd would kill it at its start
  timeout (lnd is health-gated with \`Notify=healthy\`).
- **lnd macaroons** are written to lnd's own \`macaroons\` directory (a sibling of its data
  dir, mode 0755) instead of \`data/chain/bitcoin/<network>/\` (0700 directories): lnd runs as
  uid 0 with gid 1000, so the 0640 macaroon files are group-readable by consumers that run
  as 1000:1000 (ThunderHub), and the path is the same on every network. Switching a node's
  network leaves the previous network's macaroons there: remove
  \`${DATA_ROOT}/lnd/macaroons/\` then, and lnd writes new ones.
- **UI companions** (bitcoin-ui, lnd-ui, electrs-ui) stay reachable on the LAN (8081–8083):
  they are the node's status pages. nginx injects each UI's own rpcauth credentials into
  \`/bitcoin-rpc/\`, bitcoind's \`rpcwhitelist\` limits that user to the read-only calls its
  manifest lists, and nginx passes only POSTs of at most 16 KiB there; lnd-ui's
  \`/lnd/v1/state\` and electrs-ui's \`/electrs/metrics\` are read-only GETs that carry no
  credential. Whoever reaches the page can read node status and nothing more.
- **Vaultwarden** is served over plain HTTP on 8089. Bitwarden clients and the web vault
  need HTTPS (a secure context) except on localhost, so use it through the node's HTTPS
  front end or its Tor onion; the compiler has no per-node certificate to hand Rocket.
- **BTCPay's PostgreSQL** uses trust authentication, as btcpayserver-docker and Umbrel do:
  there is no password to fix, and the database is reachable only on the archy network.
- **Database passwords** (nextcloud, mempool) are read by MariaDB only when its data
  directory is first initialised. A node that initialised them with the old fixed password
  keeps that one in the database: set the stored password there once
  (\`ALTER USER … IDENTIFIED BY …\`) or start with an empty database directory.
- **ElectrumX** 1.16 has no coin class for signet or testnet4: such a selection is refused
  with a diagnostic (use electrs or Fulcrum). Its admin RPC listens on 127.0.0.1 only.

## Apps
`;

interface DocApp {
  app: App;
  file: string;
  doc: Document;
  text: string;
}

/** The manifest's leading "# Upstream references" comment lines (the file's first comment block). */
function upstream(text: string): string[] {
  const lines: string[] = [];
  for (const l of text.split("\n")) {
    if (!l.startsWith("#")) break;
    lines.push(l.replace(/^# ?/, ""));
  }
  const start = lines.findIndex((l) => /^Upstream references/.test(l));
  if (start < 0) return [];
  const out: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (/^- /.test(l)) out.push(l.slice(2));
    else if (/^\s+\S/.test(l) && out.length) out[out.length - 1] += ` ${l.trim()}`;
  }
  return out;
}

/** The comment written right above a container's healthcheck `cmd` (or above `healthcheck`). */
function healthComment(doc: Document, key: string): string | undefined {
  const containers = doc.get("containers", true);
  if (!isMap(containers)) return undefined;
  const c = containers.get(key, true);
  if (!isMap(c)) return undefined;
  const pair = c.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === "healthcheck");
  const hc = pair && isPair(pair) && isMap(pair.value) ? pair.value : undefined;
  const cmdPair = hc?.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === "cmd");
  const text = hc?.commentBefore ?? (cmdPair && isScalar(cmdPair.key) ? cmdPair.key.commentBefore : undefined) ?? (pair && isScalar(pair.key) ? pair.key.commentBefore : undefined);
  return text
    ?.split("\n")
    .map((l) => l.trim())
    .join(" ")
    .trim();
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
const code = (s: string) => `\`${s.replace(/`/g, "'")}\``;

function configFile(appId: string, key: string, e: ConfigEntry): string {
  const name = e.kind === "bitcoin-rpc.env" || e.kind === "app.env" ? `${e.kind.slice(0, -4)}-${key}.env` : e.kind;
  return `${CONFIG_ROOT}/${appId}/${name}`;
}

function credentials(a: App, key: string, c: Container): string[] {
  const out: string[] = [];
  for (const e of c.configs ?? []) {
    const file = configFile(a.id, key, e);
    const secrets = new Set<string>();
    if (["lnd.conf", "electrumx.env", "nginx.conf", "cln.conf"].includes(e.kind)) secrets.add(rpcSecretName(a.id));
    for (const [k, v] of Object.entries(e.env ?? {})) {
      if (RPC_WORDS.has(v)) {
        if (["password", "url", "cookie"].includes(v)) secrets.add(rpcSecretName(a.id));
      } else for (const m of v.matchAll(/\{\{secret\.([a-z0-9-]+)\}\}/g)) secrets.add(appSecretName(a.id, m[1]!)), void k;
    }
    if (e.wallet_password) {
      secrets.add(appSecretName(a.id, WALLET_SECRET));
      out.push(`${code(`${CONFIG_ROOT}/${a.id}/${WALLET_SECRET}`)} → ${code(e.wallet_password)} (0600, from ${code(appSecretName(a.id, WALLET_SECRET))})`);
    }
    if (secrets.size === 0) continue;
    const at = e.kind.endsWith(".env") ? "environment file" : `mounted at ${code(e.mount ?? "?")}`;
    out.push(`${code(file)} (0600, ${at}) from ${[...secrets].sort(cmp).map(code).join(", ")}`);
  }
  return out;
}

function network(a: App, c: Container): string[] {
  const out: string[] = [];
  for (const e of c.configs ?? []) {
    if (e.kind === "bitcoin.conf") out.push("`chain=` and the network section of bitcoin.conf (core names)");
    if (e.kind === "lnd.conf") out.push("`bitcoin.<lnd name>=1` in lnd.conf");
    if (e.kind === "electrumx.env") out.push("`NET=` (mainnet, testnet, regtest; signet and testnet4 refused)");
    for (const [k, v] of Object.entries(e.env ?? {})) {
      if (v === "network") out.push(`${code(k)} ← lnd names`);
      else if (!RPC_WORDS.has(v)) for (const m of v.matchAll(/\{\{network\.([a-z]+)\}\}/g)) out.push(`${code(k)} ← ${m[1]} names`);
    }
  }
  return [...new Set(out)];
}

function appSection({ app: a, doc, text }: DocApp): string {
  const rows: [string, string][] = [];
  const keys = Object.keys(a.containers);
  const per = (f: (key: string, c: Container) => string | undefined) =>
    keys
      .map((k) => {
        const v = f(k, a.containers[k]!);
        return v === undefined ? undefined : keys.length > 1 ? `**${containerName(a, k)}**: ${v}` : v;
      })
      .filter((x): x is string => x !== undefined)
      .join("<br>");
  rows.push(["image", per((_, c) => (c.image ? code(c.image.replace(/@sha256:([0-9a-f]{12})[0-9a-f]+$/, "@sha256:$1…")) : `built from ${code(`manifests/${c.build!.context}/`)}`))]);
  rows.push(["user", per((_, c) => (c.user ? code(c.user) : "image default"))]);
  rows.push([
    "data",
    per((_, c) => {
      const v = (c.volumes ?? []).map((vol) => {
        const host = vol.source.startsWith("/") ? vol.source : `${DATA_ROOT}/${vol.app ?? a.id}/${vol.source}`;
        return `${code(host)} → ${code(vol.target)}${vol.read_only ? " (ro)" : ""}${vol.owner ? ` (owner ${vol.owner})` : ""}`;
      });
      return v.length ? v.join(", ") : "none";
    }),
  ]);
  rows.push([
    "credentials",
    per((k, c) => {
      const v = credentials(a, k, c);
      return v.length ? v.join("; ") : undefined;
    }) || "none",
  ]);
  rows.push([
    "health",
    per((k, c) => {
      if (!c.healthcheck) return "no check (started = up)";
      const cmd = typeof c.healthcheck.cmd === "string" ? c.healthcheck.cmd : c.healthcheck.cmd.join(" ");
      const why = healthComment(doc, k);
      return `${code(cmd)}${why ? ` — ${why}` : ""}`;
    }),
  ]);
  rows.push([
    "network",
    per((_, c) => {
      const v = network(a, c);
      return v.length ? v.join("; ") : undefined;
    }) || "nothing network-specific in its configuration",
  ]);
  // Settings (docs/settings.md): names and defaults; requirements on the provider.
  const settings = Object.entries(a.settings ?? {}).sort((x, y) => cmp(x[0], y[0]));
  if (settings.length) rows.push(["settings", settings.map(([k, d]) => `${code(k)} ${JSON.stringify(d.default)}`).join(", ")]);
  const requires = Object.entries(a.dependencies ?? {}).filter(([, d]) => d.requires_settings);
  if (requires.length) rows.push(["requires", requires.map(([k, d]) => `${k}: ${Object.entries(d.requires_settings!).map(([n, v]) => `${code(n)} ${JSON.stringify(v)}`).join(", ")}`).join("; ")]);
  const refs = upstream(text);
  rows.push(["upstream", refs.length ? refs.join("<br>") : "—"]);
  return `\n### ${a.name} (\`${a.id}\`)\n\n${cell(a.description)}\n\n| | |\n| --- | --- |\n${rows.map(([k, v]) => `| ${k} | ${cell(v)} |`).join("\n")}\n`;
}

export function catalogDoc(manifestsDir: string): string {
  const diags: Diagnostic[] = [];
  const loaded = readManifestDir(manifestsDir, diags);
  if (diags.length) throw new Error(diags.map(formatDiagnostic).join("\n"));
  const apps: DocApp[] = loaded
    .map((l) => {
      const text = readFileSync(join(manifestsDir, `${l.app.id}.yaml`), "utf8");
      return { app: l.app, file: l.file, doc: parseDocument(text), text };
    })
    .sort((x, y) => cmp(x.app.id, y.app.id));
  return `${INTRO}${apps.map(appSection).join("")}`;
}
