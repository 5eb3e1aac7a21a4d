// Tor: the derived torrc (onion services from the manifests' `onion` entries),
// the control-port password shared by torrc (hashed), bitcoin.conf and lnd.conf
// (plain), and the validation of onion entries. Pure.
import { createHash, createHmac } from "node:crypto";
import type { Graph, ContainerNode } from "../graph/graph.js";
import type { LoadedApp } from "../manifest/read.js";
import { cmp, type Diagnostic } from "../manifest/diagnostics.js";
import { resolveSource } from "../adopt/storage.js";
import type { Selection } from "../manifest/schema.js";
import { TOR_IP, isTorContainer } from "../lower/ip.js";
import { line, render } from "./render.js";
import torrc from "../../templates/torrc.js";

export const SOCKS_PORT = 9050;
export const CONTROL_PORT = 9051;
/** bitcoind's onion listener (bind=<ip>:8334=onion, Bitcoin Core's default onion port). */
export const BITCOIN_ONION_PORT = 8334;
export const CONTROL_SECRET = "control-password";

/**
 * Tor's HashedControlPassword: OpenPGP iterated+salted S2K (RFC 4880 3.7.1.3) with
 * SHA-1 and count indicator 0x60 (65,536 bytes), printed as "16:" + upper-case hex
 * of salt(8) ‖ indicator(1) ‖ digest(20) — what `tor --hash-password` prints.
 */
export function hashControlPassword(password: string, salt: Buffer): string {
  if (salt.length !== 8) throw new Error("tor's S2K salt is 8 bytes");
  const indicator = 0x60;
  const count = (16 + (indicator & 15)) << ((indicator >> 4) + 6);
  const block = Buffer.concat([salt, Buffer.from(password, "utf8")]);
  const h = createHash("sha1");
  let left = count;
  while (left > 0) {
    const n = Math.min(left, block.length);
    h.update(block.subarray(0, n));
    left -= n;
  }
  return `16:${Buffer.concat([salt, Buffer.from([indicator]), h.digest()]).toString("hex").toUpperCase()}`;
}

/** Deterministic salt (like rpcauth's): regenerating torrc gives identical bytes. */
export function controlSalt(password: string): Buffer {
  return createHmac("sha256", password).update("archy-quadlet tor control salt v1").digest().subarray(0, 8);
}

export interface OnionService {
  app: string;
  container: string;
  name: string;
  /** HiddenServiceDir inside the tor container, and the same directory on the host. */
  dir: string;
  hostDir: string;
  virtualPort: number;
  port: number;
  target: string;
}

/** The selected tor app's container (the one consuming a torrc), if any. */
export function torNode(g: Graph): ContainerNode | undefined {
  return g.containers.find((n) => isTorContainer(n.spec));
}

/** Where tor keeps its data inside its container, and on the host (through the storage mapping): the volume with source `data`. */
export function torDataDir(n: ContainerNode, selection?: Selection): { inside: string; host: string } | undefined {
  const v = (n.spec.volumes ?? []).find((x) => x.source === "data" && !x.app);
  return v ? { inside: v.target, host: resolveSource(selection, n.app.id, v.source).host } : undefined;
}

/** Every onion service of the graph, sorted; empty without tor. */
export function onionServices(g: Graph, ips: Map<string, string>): OnionService[] {
  const tor = torNode(g);
  const data = tor && torDataDir(tor, g.selection);
  if (!tor || !data) return [];
  const out: OnionService[] = [];
  for (const n of g.containers) {
    const ip = ips.get(n.name);
    for (const o of n.spec.onion ?? []) {
      if (!ip) continue; // allocateIps covers every container with onion entries
      const leaf = `${n.app.id}-${o.name}`;
      out.push({ app: n.app.id, container: n.name, name: o.name, dir: `${data.inside}/${leaf}`, hostDir: `${data.host}/${leaf}`, virtualPort: o.virtual_port ?? o.port, port: o.port, target: `${ip}:${o.port}` });
    }
  }
  return out.sort((a, b) => cmp(a.dir, b.dir) || a.virtualPort - b.virtualPort);
}

/** Apps that use Tor (bitcoind's provider, lnd): tor selected and the selection does not turn it off. */
export function usesTor(g: Graph, appId: string): boolean {
  return torNode(g) !== undefined && g.selection?.settings.tor?.[appId] !== false;
}

export function torrcContent(g: Graph, tor: ContainerNode, ips: Map<string, string>, password: string, head: string, subnet: string, diags: Diagnostic[], where: { file: string; path: string }): string | undefined {
  const data = torDataDir(tor);
  if (!data) {
    diags.push({ ...where, message: "torrc needs the tor container to mount a volume with source `data` (its DataDirectory; hidden service directories live there)" });
    return undefined;
  }
  let services = "";
  for (const s of onionServices(g, ips)) {
    services += `\n# ${line(s.app)}: ${line(s.name)}\nHiddenServiceDir ${line(s.dir)}\nHiddenServicePort ${s.virtualPort} ${s.target}\n`;
  }
  return render(torrc, {
    header: head,
    data_dir: line(data.inside),
    subnet,
    control: `${ips.get(tor.name) ?? TOR_IP}:${CONTROL_PORT}`,
    hashed_password: hashControlPassword(password, controlSalt(password)),
    services,
  });
}

/**
 * Lines for bitcoin.conf's network section when bitcoind uses Tor: outbound
 * through tor's SOCKS port only. bitcoind does not create its own onion
 * service, because that needs the control password (`torpassword=`) in
 * bitcoin.conf, and bitcoin.conf must stay 0644 (bitcoind reads it as its own
 * uid after the image drops privileges): no secret goes into a world-readable
 * file. `listenonion=0` keeps bitcoind from trying the control port.
 */
export function bitcoinTorLines(): string[] {
  return [`proxy=${TOR_IP}:${SOCKS_PORT}`, "listenonion=0"];
}

/** lnd.conf's [tor] section when lnd uses Tor. */
export function lndTorSection(ownIp: string, password: string): string {
  return [
    "[tor]",
    "tor.active=true",
    `tor.socks=${TOR_IP}:${SOCKS_PORT}`,
    `tor.control=${TOR_IP}:${CONTROL_PORT}`,
    `tor.password=${password}`,
    "tor.v3=true",
    `tor.targetipaddress=${ownIp}`,
    "",
  ].join("\n") + "\n";
}

/**
 * Onion entries are checked whether or not tor is selected (they are part of the
 * manifest): unique names per app, a port the container declares in `ports`.
 */
export function checkOnionEntries(apps: LoadedApp[], diags: Diagnostic[]): void {
  // <app>-<name> is one directory in tor's data dir: app "lnd" entry "rest-a" and app
  // "lnd-rest" entry "a" would share it (and so one onion key).
  const dirs = new Map<string, string>();
  for (const { app, file } of [...apps].sort((a, b) => cmp(a.app.id, b.app.id))) {
    for (const [key, c] of Object.entries(app.containers)) {
      (c.onion ?? []).forEach((o, i) => {
        const leaf = `${app.id}-${o.name}`;
        const prev = dirs.get(leaf);
        if (prev && !prev.startsWith(`app "${app.id}"`)) diags.push({ file, path: `containers.${key}.onion[${i}].name`, message: `the hidden service directory ${leaf} is already ${prev}'s; rename this onion entry` });
        else dirs.set(leaf, `app "${app.id}" entry "${o.name}"`);
      });
    }
  }
  for (const { app, file } of apps) {
    const seen = new Map<string, string>();
    for (const [key, c] of Object.entries(app.containers)) {
      (c.onion ?? []).forEach((o, i) => {
        const path = `containers.${key}.onion[${i}]`;
        const prev = seen.get(o.name);
        if (prev) diags.push({ file, path: `${path}.name`, message: `onion name "${o.name}" is already used by ${prev} of app "${app.id}"; names are unique within an app (the hidden service directory is ${app.id}-${o.name})` });
        else seen.set(o.name, path);
        const listens = (c.ports ?? []).some((p) => p.container === o.port && p.protocol === "tcp");
        if (!listens) diags.push({ file, path: `${path}.port`, message: `port ${o.port} is not a TCP port this container declares in \`ports\` (container side); an onion service can only forward to a port the container listens on` });
      });
    }
  }
}
