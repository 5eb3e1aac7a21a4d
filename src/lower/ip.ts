// Stable addresses on the archy network for containers Tor forwards to. Tor's
// HiddenServicePort (and bitcoind's/lnd's ADD_ONION target) take an IP address,
// never a host name, so these containers get quadlet `IP=` from the upper half
// of the subnet; the network's IPRange= keeps podman's dynamic allocation in the
// lower half, so the two never meet. Pure and deterministic: an address is a hash
// of the container name, computed over the whole catalog (not the selection), so
// selecting or deselecting apps never moves one.
import { createHash } from "node:crypto";
import type { LoadedApp } from "../manifest/read.js";
import { containerName } from "../graph/graph.js";
import { cmp } from "../manifest/diagnostics.js";

/** podman allocates dynamically from here (the network's IPRange=). */
export const DYNAMIC_RANGE = "10.89.0.0/25";
const STATIC_BASE = 128;
/** The tor container's own address (SOCKS and control port targets in bitcoin.conf / lnd.conf). */
export const TOR_IP = "10.89.0.254";
/** Hashed slots: 10.89.0.128 – 10.89.0.253. */
const SLOTS = 126;

/** Does a container need a stable address (when tor is selected)? Onion entries, or a config that asks tor for an onion (ADD_ONION). */
export function wantsStaticIp(c: LoadedApp["app"]["containers"][string]): boolean {
  return (c.onion?.length ?? 0) > 0 || (c.configs ?? []).some((e) => e.kind === "bitcoin.conf" || e.kind === "lnd.conf");
}

export function isTorContainer(c: LoadedApp["app"]["containers"][string]): boolean {
  return (c.configs ?? []).some((e) => e.kind === "torrc");
}

function home(name: string): number {
  return createHash("sha256").update(`archy-quadlet ip v1\0${name}`).digest().readUInt32BE(0) % SLOTS;
}

/**
 * container name → IPv4 address for every catalog container that may need one.
 * Each takes its hash slot; on a collision the container with the lower slot-then-name
 * order keeps it and the other takes the next free slot (wrapping). The catalog test
 * checks that every catalog container sits on its own slot, so adding an app moves
 * at most that app's containers.
 */
export function allocateIps(apps: LoadedApp[]): Map<string, string> {
  const names: string[] = [];
  let tor: string | undefined;
  for (const { app } of apps) {
    for (const [key, c] of Object.entries(app.containers)) {
      if (isTorContainer(c)) tor ??= containerName(app, key);
      else if (wantsStaticIp(c)) names.push(containerName(app, key));
    }
  }
  const out = new Map<string, string>();
  if (tor) out.set(tor, TOR_IP);
  const taken = new Set<number>();
  const order = [...new Set(names)].map((n) => ({ n, h: home(n) })).sort((a, b) => a.h - b.h || cmp(a.n, b.n));
  for (const { n, h } of order) {
    let slot = h;
    for (let i = 0; i < SLOTS && taken.has(slot); i++) slot = (slot + 1) % SLOTS;
    if (taken.has(slot)) throw new Error(`more than ${SLOTS} containers need a stable address on the archy network`);
    taken.add(slot);
    out.set(n, `10.89.0.${STATIC_BASE + slot}`);
  }
  return out;
}

/** Containers that did not land on their own hash slot (the catalog test expects none). */
export function displaced(ips: Map<string, string>): string[] {
  return [...ips].filter(([n, ip]) => ip !== TOR_IP && ip !== `10.89.0.${STATIC_BASE + home(n)}`).map(([n]) => n);
}
