// adopt, the pure part: match the node's existing containers (podman ps/inspect JSON)
// to the selection's containers and map their mounts to manifest volumes. No I/O: the
// caller (src/adopt/adopt.ts) runs podman through the adapter and stats the sources.
import type { Graph, ContainerNode } from "../graph/graph.js";
import { cmp } from "../manifest/diagnostics.js";
import { sourceKey } from "./storage.js";

/** The fields of `podman inspect <container>` (Podman 5.4) adopt reads. */
export interface InspectMount {
  Type: string; // "bind" | "volume" | "tmpfs" | …
  Name?: string; // named volumes
  Source: string;
  Destination: string;
  RW: boolean;
}
export interface Inspect {
  Id: string;
  Name: string;
  ImageName?: string;
  Config?: { Image?: string; User?: string; Labels?: Record<string, string> | null };
  State?: { Status?: string; Running?: boolean };
  Mounts?: InspectMount[];
}

export interface Match {
  /** manifest container (unit) name */
  container: string;
  app: string;
  /** the existing container */
  legacy: string;
  id: string;
  image: string;
  by: "name" | "image";
  state: string;
}
export interface UnmappedMount {
  legacy: string;
  type: string;
  source: string;
  destination: string;
  why: string;
}
export interface Fresh {
  app: string;
  container: string;
  source: string;
  target: string;
}
export interface Proposal {
  matched: Match[];
  storage: Record<string, Record<string, string>>;
  unmapped_mounts: UnmappedMount[];
  fresh: Fresh[];
  /** adopt-level problems: ambiguous matches, one source from two places */
  errors: string[];
}

/** Created by archy-quadlet (or any quadlet unit): never "legacy". */
export function ours(c: Inspect): boolean {
  const l = c.Config?.Labels ?? {};
  return "archy.app" in l || "PODMAN_SYSTEMD_UNIT" in l;
}

/** docker.io/lncm/bitcoind:v27.0@sha256:… → docker.io/lncm/bitcoind; "lncm/bitcoind" → docker.io/lncm/bitcoind. */
export function repository(ref: string): string {
  let r = ref.split("@")[0]!;
  const slash = r.lastIndexOf("/");
  const colon = r.lastIndexOf(":");
  if (colon > slash) r = r.slice(0, colon);
  const first = r.split("/")[0]!;
  if (!r.includes("/")) r = `docker.io/library/${r}`;
  else if (!first.includes(".") && !first.includes(":") && first !== "localhost") r = `docker.io/${r}`;
  return r;
}

const imageOf = (c: Inspect) => c.ImageName ?? c.Config?.Image ?? "";
const stripSlash = (n: string) => n.replace(/^\//, "");

export function propose(g: Graph, legacy: Inspect[]): Proposal {
  const errors: string[] = [];
  const foreign = legacy.filter((c) => !ours(c)).sort((a, b) => cmp(stripSlash(a.Name), stripSlash(b.Name)));
  const byName = new Map(foreign.map((c) => [stripSlash(c.Name), c]));
  const taken = new Set<string>();
  const pairs: { n: ContainerNode; c: Inspect; by: "name" | "image" }[] = [];
  // By name first (bare for services, archy-<id> for UIs), then by image repository.
  for (const n of g.containers) {
    const c = byName.get(n.name);
    if (c) {
      pairs.push({ n, c, by: "name" });
      taken.add(c.Id);
    }
  }
  const named = new Set(pairs.map((p) => p.n.name));
  // An app's main container (named like the app) before its helpers of the same image (lnd before lnd-wallet-init).
  const main = (n: ContainerNode) => (n.name === n.app.id || n.name === `archy-${n.app.id}` ? 0 : 1);
  for (const n of [...g.containers].sort((a, b) => main(a) - main(b))) {
    if (named.has(n.name) || !n.spec.image) continue;
    const repo = repository(n.spec.image);
    const cands = foreign.filter((c) => !taken.has(c.Id) && repository(imageOf(c)) === repo);
    if (cands.length > 1) {
      errors.push(`container "${n.name}" (app ${n.app.id}) matches ${cands.length} existing containers by image ${repo}: ${cands.map((c) => `"${stripSlash(c.Name)}"`).join(", ")}; remove or rename the one that is not this app's, then run adopt again`);
      continue;
    }
    if (cands.length === 1) {
      pairs.push({ n, c: cands[0]!, by: "image" });
      taken.add(cands[0]!.Id);
    }
  }
  // One existing container claimed by two manifest containers (two apps of one image).
  const claim = new Map<string, string>();
  for (const p of pairs) {
    const prev = claim.get(p.c.Id);
    if (prev) errors.push(`the existing container "${stripSlash(p.c.Name)}" matches both "${prev}" and "${p.n.name}"`);
    claim.set(p.c.Id, p.n.name);
  }

  const storage: Record<string, Record<string, string>> = {};
  const from = new Map<string, string>(); // app\0source → which legacy mount set it
  const unmapped: UnmappedMount[] = [];
  const mappedSources = new Set<string>();
  for (const { n, c } of pairs) {
    for (const m of c.Mounts ?? []) {
      if (m.Type !== "bind" && m.Type !== "volume") continue;
      const legacyName = stripSlash(c.Name);
      const src = m.Type === "volume" ? `volume:${m.Name ?? ""}` : m.Source;
      const vol = (n.spec.volumes ?? []).find((v) => normTarget(v.target) === normTarget(m.Destination));
      if (!vol) {
        unmapped.push({ legacy: legacyName, type: m.Type, source: m.Type === "volume" ? `volume:${m.Name}` : m.Source, destination: m.Destination, why: `"${n.name}" mounts nothing at ${m.Destination}` });
        continue;
      }
      if (vol.source.startsWith("/")) {
        unmapped.push({ legacy: legacyName, type: m.Type, source: src, destination: m.Destination, why: `"${n.name}" mounts the fixed host path ${vol.source} there` });
        continue;
      }
      if (vol.app) {
        // Another app's data, read-only: it follows that app's own mapping.
        unmapped.push({ legacy: legacyName, type: m.Type, source: src, destination: m.Destination, why: `"${n.name}" reads app ${vol.app}'s "${vol.source}" there (follows ${vol.app}'s mapping)` });
        continue;
      }
      const key = sourceKey(vol.source);
      const k = `${n.app.id}\0${key}`;
      const prev = from.get(k);
      const cur = (storage[n.app.id] ??= {})[key];
      if (cur !== undefined && cur !== src) {
        errors.push(`app ${n.app.id}'s volume "${key}" would come from both ${cur} (${prev}) and ${src} ("${legacyName}" at ${m.Destination})`);
        continue;
      }
      storage[n.app.id]![key] = src;
      from.set(k, `"${legacyName}" at ${m.Destination}`);
      mappedSources.add(k);
    }
  }
  const fresh: Fresh[] = [];
  const seenFresh = new Set<string>();
  for (const n of g.containers) {
    for (const v of n.spec.volumes ?? []) {
      if (v.app || v.source.startsWith("/")) continue;
      const k = `${n.app.id}\0${sourceKey(v.source)}`;
      if (mappedSources.has(k) || seenFresh.has(k) || g.selection?.storage?.[n.app.id]?.[sourceKey(v.source)]) continue;
      seenFresh.add(k);
      fresh.push({ app: n.app.id, container: n.name, source: sourceKey(v.source), target: v.target });
    }
  }
  const matched: Match[] = pairs
    .map(({ n, c, by }) => ({ container: n.name, app: n.app.id, legacy: stripSlash(c.Name), id: c.Id.slice(0, 12), image: imageOf(c), by, state: c.State?.Status ?? "unknown" }))
    .sort((a, b) => cmp(a.container, b.container));
  unmapped.sort((a, b) => cmp(`${a.legacy}\0${a.destination}`, `${b.legacy}\0${b.destination}`));
  return { matched, storage, unmapped_mounts: unmapped, fresh, errors };
}

const normTarget = (t: string) => (t.length > 1 ? t.replace(/\/+$/, "") : t);
