// `connect APP` as data: what a wallet needs to reach an app — LAN host and
// ports, onion addresses (from tor's hostname files), Electrum server strings,
// the bitcoind RPC login of one consuming app, and lndconnect URIs for lnd.
// Pure except for the reads it is handed (`read`), so tests give it a fake node.
// Secrets (RPC password, macaroon) are included only with `showSecrets`.
import type { Graph, ContainerNode } from "../graph/graph.js";
import { cmp } from "../manifest/diagnostics.js";
import { BITCOIN_ROLE, rpcSecretName } from "../configs/derive.js";
import { onionServices, torNode } from "../configs/tor.js";
import { lndNode } from "../lower/backup-units.js";
import { resolveSource, rpcUserSecretName } from "../adopt/storage.js";
import type { Selection } from "../manifest/schema.js";
import type { SecretSource } from "../configs/secrets.js";

export interface ConnectInput {
  g: Graph;
  appId: string;
  lanHost: string;
  rpcUser?: string;
  showSecrets: boolean;
  secrets: SecretSource;
  /** Read a file on the node (an absolute host path); undefined when it does not exist. */
  read: (hostPath: string) => Buffer | undefined;
}

export interface ConnectReport {
  app: string;
  name: string;
  lan: { host: string; ports: { container: string; host: number; port: number; protocol: string }[] };
  onion: { name: string; container: string; address: string | null; port: number; hostnameFile: string }[];
  electrum: string[];
  /** password: null unless --show-secrets (and known on this node). */
  bitcoinRpc: { user: string; host: string; port: number; url: string; password: string | null; reachable: string } | null;
  lndconnect: { via: string; api: "rest" | "grpc"; uri: string; macaroon: boolean }[];
  /** Missing pieces, each with what to do. */
  missing: string[];
  secretsShown: boolean;
}

const b64url = (b: Uint8Array) => Buffer.from(b).toString("base64url");

/** PEM certificate → DER bytes. */
export function pemToDer(pem: string): Buffer | undefined {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  return m ? Buffer.from(m[1]!.replace(/\s+/g, ""), "base64") : undefined;
}

/** lndconnect://host:port?cert=<base64url DER>&macaroon=<base64url> (no padding). */
export function lndconnectUri(host: string, port: number, certDer: Uint8Array | undefined, macaroon: Uint8Array | undefined): string {
  const q = [certDer ? `cert=${b64url(certDer)}` : "", macaroon ? `macaroon=${b64url(macaroon)}` : ""].filter(Boolean).join("&");
  return `lndconnect://${host}:${port}${q ? `?${q}` : ""}`;
}

/** The host path behind a path inside a container, through its volumes (longest target first) and the storage mapping. */
export function hostPathOf(n: ContainerNode, inside: string, selection?: Selection): string | undefined {
  const vols = [...(n.spec.volumes ?? [])].sort((a, b) => b.target.length - a.target.length);
  for (const v of vols) {
    if (inside === v.target || inside.startsWith(`${v.target}/`)) {
      const base = resolveSource(selection, v.app ?? n.app.id, v.source).host;
      return base + inside.slice(v.target.length);
    }
  }
  return undefined;
}

export function connectReport(i: ConnectInput): ConnectReport {
  const { g, appId } = i;
  const nodes = g.containers.filter((n) => n.app.id === appId).sort((a, b) => cmp(a.name, b.name));
  const app = nodes[0]!.app;
  const missing: string[] = [];
  const ports = nodes.flatMap((n) => (n.spec.ports ?? []).filter((p) => p.bind !== "127.0.0.1").map((p) => ({ container: n.name, host: p.host, port: p.container, protocol: p.protocol })));

  // Onion addresses: tor writes <HiddenServiceDir>/hostname at start-up.
  const onion: ConnectReport["onion"] = [];
  const hasOnion = nodes.some((n) => (n.spec.onion ?? []).length > 0);
  if (hasOnion && !torNode(g)) missing.push(`tor is not selected, so ${appId}'s onion entries are inert: add tor to the selection and apply for an onion address`);
  const placeholder = new Map(nodes.map((n) => [n.name, "0.0.0.0"]));
  for (const s of onionServices(g, placeholder).filter((s) => s.app === appId)) {
    const file = `${s.hostDir}/hostname`;
    const text = i.read(file)?.toString("utf8").trim();
    const address = text && /^[a-z2-7]{56}\.onion$/.test(text) ? text : null;
    if (!address) missing.push(`onion "${s.name}" has no address yet: tor writes ${file} when it starts with this service; check: systemctl status ${torNode(g)!.name}.service`);
    onion.push({ name: s.name, container: s.container, address, port: s.virtualPort, hostnameFile: file });
  }

  // Electrum servers: host:port:t (TCP) / :s (TLS; container port 50002 by convention).
  const electrum: string[] = [];
  if (app.provides?.role === "electrum") {
    const suffix = (port: number) => (port === 50002 ? "s" : "t");
    for (const p of ports.filter((p) => p.protocol === "tcp" && (p.port === 50001 || p.port === 50002))) electrum.push(`${i.lanHost}:${p.host}:${suffix(p.port)}`);
    for (const o of onion) if (o.address) electrum.push(`${o.address}:${o.port}:${suffix(nodes.find((n) => n.name === o.container)!.spec.onion!.find((x) => x.name === o.name)!.port)}`);
  }

  // bitcoind RPC: the login of one consuming app (its rpcauth user), or of an rpc_users entry.
  let bitcoinRpc: ConnectReport["bitcoinRpc"] = null;
  if (app.provides?.role === BITCOIN_ROLE) {
    const users = g.selection?.rpc_users ?? [];
    const extra = users.find((u) => u.name === i.rpcUser);
    const names = [...g.apps.filter((a) => a.app.bitcoin_rpc).map((a) => a.app.id), ...users.map((u) => u.name)].sort(cmp);
    if (!i.rpcUser) missing.push(`RPC logins are per consuming app or rpc_users entry: add --rpc-user <name> (one of: ${names.join(", ") || "none selected"})`);
    else if (!extra && !g.apps.some((a) => a.app.id === i.rpcUser && a.app.bitcoin_rpc)) missing.push(`"${i.rpcUser}" is neither a selected app with \`bitcoin_rpc\` nor an rpc_users entry; it has no RPC login`);
    else {
      const main = nodes.find((n) => n.spec.configs?.some((c) => c.kind === "bitcoin.conf")) ?? nodes[0]!;
      const published = ports.find((p) => p.port === 8332 && p.protocol === "tcp");
      const host = published ? i.lanHost : main.name;
      const port = published ? published.host : 8332;
      bitcoinRpc = {
        user: i.rpcUser,
        host,
        port,
        url: `http://${host}:${port}/`,
        password: null,
        reachable: published ? "from the LAN" : `on the archy network only (${main.name}:8332; the port is not published on the host)`,
      };
      if (extra && !extra.secret) {
        // Carried as an rpcauth line: the password never reached this node.
        missing.push(`"${extra.name}" is an rpcauth entry: its password is known only to whoever made the rpcauth line`);
      } else if (i.showSecrets) {
        const pw = extra ? i.secrets.get(rpcUserSecretName(extra.name), [], "password") : i.secrets.get(rpcSecretName(i.rpcUser), []);
        if (pw !== undefined) bitcoinRpc.password = pw;
      }
    }
  }

  // lndconnect: REST and gRPC, on the LAN and over the onion services named rest/grpc.
  const lndconnect: ConnectReport["lndconnect"] = [];
  const lnd = lndNode(g);
  if (lnd && lnd.app.id === appId) {
    const args = lnd.spec.command ?? [];
    const arg = (k: string) => args.find((w) => w.startsWith(`--${k}=`))?.slice(k.length + 3);
    const lnddir = arg("lnddir") ?? "/root/.lnd";
    const certFile = hostPathOf(lnd, arg("tlscertpath") ?? `${lnddir}/tls.cert`, g.selection);
    const macFile = hostPathOf(lnd, arg("adminmacaroonpath") ?? `${lnddir}/data/chain/bitcoin/mainnet/admin.macaroon`, g.selection);
    const pem = certFile ? i.read(certFile) : undefined;
    const der = pem ? pemToDer(pem.toString("utf8")) : undefined;
    if (!der) missing.push(`lnd's TLS certificate is not there yet (${certFile}): lnd writes it at its first start; check: systemctl status ${lnd.name}.service`);
    const mac = macFile ? i.read(macFile) : undefined;
    if (!mac) missing.push(`lnd's admin.macaroon is not there yet (${macFile}): lnd writes it once the wallet exists and is unlocked; check: systemctl status ${lnd.name}.service and journalctl -u ${lnd.name}-wallet-init.service`);
    else if (!i.showSecrets) missing.push("the lndconnect URIs below carry no macaroon: add --show-secrets to include the admin macaroon (it controls the node's funds)");
    if (der) {
      const macaroon = i.showSecrets ? mac : undefined;
      const rest = ports.find((p) => p.container === lnd.name && p.port === 8080);
      const grpc = ports.find((p) => p.container === lnd.name && p.port === 10009);
      if (rest) lndconnect.push({ via: "lan", api: "rest", uri: lndconnectUri(i.lanHost, rest.host, der, macaroon), macaroon: macaroon !== undefined });
      if (grpc) lndconnect.push({ via: "lan", api: "grpc", uri: lndconnectUri(i.lanHost, grpc.host, der, macaroon), macaroon: macaroon !== undefined });
      for (const o of onion) {
        if (!o.address || (o.name !== "rest" && o.name !== "grpc")) continue;
        lndconnect.push({ via: "onion", api: o.name, uri: lndconnectUri(o.address, o.port, der, macaroon), macaroon: macaroon !== undefined });
      }
    }
  }

  return { app: appId, name: app.name, lan: { host: i.lanHost, ports }, onion, electrum, bitcoinRpc, lndconnect, missing, secretsShown: i.showSecrets };
}
