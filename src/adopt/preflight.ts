// What apply checks and does for an adopted node (docs/adopt.md), before anything is
// switched: every mapped directory and named volume exists (someone's data: never created
// empty); no container archy-quadlet did not create holds a new unit's name with data the
// unit would not mount (quadlet's --replace would remove it and the unit would start on
// empty directories). And the takeover: the old system's units are stopped and disabled
// by the apply that starts ours, and re-enabled by a rollback to before it.
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { SystemAdapter } from "../apply/adapter.js";
import type { Graph } from "../graph/graph.js";
import type { Selection } from "../manifest/schema.js";
import { Failure } from "../outcome.js";
import { writeFileAtomic } from "../atomic.js";
import { readMeta, treeHash, writeGeneration } from "../apply/state.js";
import { ours, type Inspect } from "./discover.js";
import { DEFAULT_TAKEOVER_UNITS, STATE_DIR, mappedTargets, resolveSource, volumeSource } from "./storage.js";

interface Env {
  root: string;
  adapter: SystemAdapter;
  log: (line: string) => void;
}

/**
 * Refuse (kind "failed", exit 3) before the switch: a mapped source missing, or a foreign
 * container holding the name of a unit this apply starts for the first time whose data that
 * unit would not mount (unless named in `replaceForeign`). A container with some of its data
 * mapped was adopted: its other mounts (adopt's unmapped_mounts) are only logged.
 */
export async function adoptPreflight(env: Env, g: Graph | undefined, firstStarts: ReadonlySet<string>, replaceForeign: readonly string[] = []): Promise<void> {
  const problems: string[] = [];
  for (const t of mappedTargets(g?.selection)) {
    if (t.where.kind === "volume") {
      const r = await env.adapter.run("podman", ["volume", "inspect", t.where.volume], { timeoutMs: 60_000 });
      if (r.code !== 0) problems.push(`storage.${t.app}.${t.source}: the podman named volume "${t.where.volume}" does not exist (podman would create it empty)`);
    } else if (!isDir(join(env.root, t.where.host))) {
      problems.push(`storage.${t.app}.${t.source}: ${t.where.host} does not exist or is not a directory (a mapped directory is existing data: it is never created)`);
    }
  }
  const starting = (g?.containers ?? []).filter((n) => firstStarts.has(`${n.name}.service`));
  if (starting.length) {
    const ps = await env.adapter.run("podman", ["ps", "-a", "--format", "json"], { timeoutMs: 60_000 });
    const names = new Set(parse<{ Names?: string[] }[]>(ps.stdout).flatMap((c) => c.Names ?? []));
    const clash = starting.filter((n) => names.has(n.name));
    if (ps.code === 0 && clash.length) {
      const ins = await env.adapter.run("podman", ["container", "inspect", ...clash.map((n) => n.name)], { timeoutMs: 60_000 });
      const found = parse<Inspect[]>(ins.stdout);
      for (const n of clash) {
        const c = found.find((x) => x.Name.replace(/^\//, "") === n.name);
        if (!c || ours(c) || replaceForeign.includes(n.name)) continue;
        const mine = new Set((n.spec.volumes ?? []).map((v) => volumeSource(resolveSource(g?.selection, v.app ?? n.app.id, v.source))));
        const data = (c.Mounts ?? []).filter((m) => m.Type === "bind" || m.Type === "volume");
        const lost = data.filter((m) => !mine.has(m.Type === "volume" ? (m.Name ?? "") : m.Source));
        if (lost.length === 0) continue;
        // Adopted (some of its data mapped): adopt listed the rest as unmapped; they stay on disk, unused.
        if (lost.length < data.length) {
          env.log(`${n.name}: replacing the existing container; its mounts ${lost.map((m) => `${m.Type === "volume" ? `volume ${m.Name}` : m.Source} at ${m.Destination}`).join(", ")} are not mounted by ${n.name}.service (they stay where they are)`);
          continue;
        }
        problems.push(
          `the existing container "${n.name}" was not created by archy-quadlet and mounts ${lost.map((m) => `${m.Type === "volume" ? `volume ${m.Name}` : m.Source} at ${m.Destination}`).join(", ")}, which ${n.name}.service would not mount: starting it would replace that container and run on empty data. Run \`archy-quadlet adopt --select <selection>\` to use its data in place, or \`apply --replace-foreign ${n.name}\` to replace it anyway`,
        );
      }
    }
  }
  if (problems.length) throw new Failure("failed", `${problems.map((p) => `apply: ${p}`).join("\n")}\nnothing was switched; the existing containers keep running`);
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function parse<T extends unknown[]>(s: string): T {
  try {
    const v = JSON.parse(s) as unknown;
    return (Array.isArray(v) ? v : []) as T;
  } catch {
    return [] as unknown as T;
  }
}

// The takeover record: which generation disabled which of the old system's units.
const RECORD = "takeover.json";
interface Record {
  generation: number;
  units: string[];
}
const recordPath = (root: string) => join(root, STATE_DIR.slice(1), RECORD);
const UNIT_DIRS = ["etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system"];

function readRecord(root: string): Record | undefined {
  try {
    return JSON.parse(readFileSync(recordPath(root), "utf8")) as Record;
  } catch {
    return undefined;
  }
}

/** Stop and disable the old system's units (present ones only), once, when the selection adopts data (or names `takeover:`); recorded with the generation that did it. */
export async function takeOver(env: Env, selection: Selection | undefined, generation: number): Promise<void> {
  if (readRecord(env.root)) return; // already taken over: a later apply leaves them as they are
  // Only the apply that starts adopted units (a storage: mapping) takes over, or one told to.
  if (!selection?.takeover && Object.keys(selection?.storage ?? {}).length === 0) return;
  const wanted = selection?.takeover?.disable_units ?? DEFAULT_TAKEOVER_UNITS;
  const present = wanted.filter((u) => UNIT_DIRS.some((d) => existsSync(join(env.root, d, u))));
  if (present.length === 0) return;
  env.log(`taking over from the old system: systemctl disable --now ${present.join(" ")}`);
  const r = await env.adapter.run("systemctl", ["disable", "--now", ...present], { timeoutMs: 10 * 60_000 });
  if (r.code !== 0) throw new Failure("failed", `apply: could not stop the old system's units (${present.join(", ")}): ${(r.stderr || r.stdout).trim()}\nnothing was switched`);
  writeFileAtomic(recordPath(env.root), JSON.stringify({ generation, units: present }, null, 2) + "\n", 0o644);
}

/** After a rollback to a generation older than the takeover: enable and start the old units again. */
export async function giveBack(env: Env, target: number): Promise<string | undefined> {
  const rec = readRecord(env.root);
  if (!rec || target >= rec.generation) return undefined;
  env.log(`rolled back past the takeover (generation ${rec.generation}): systemctl enable --now ${rec.units.join(" ")}`);
  const r = await env.adapter.run("systemctl", ["enable", "--now", ...rec.units], { timeoutMs: 10 * 60_000 });
  if (r.code !== 0) return `re-enabling ${rec.units.join(", ")} failed: ${(r.stderr || r.stdout).trim()}`;
  rmSync(recordPath(env.root), { force: true });
  return undefined;
}

/**
 * Generation 0: no generation at all, an empty tree — the node as it was before archy-quadlet.
 * The target of `rollback --to 0` (`explicit`), and of a plain rollback when the current
 * generation is the first and it took over from the old system: there is nothing earlier, so
 * going back means stopping every unit of ours (which removes their containers) and giving
 * the old units back (giveBack). Written on first use; undefined when neither applies.
 */
export function noGeneration(root: string, cur: number | undefined, explicit: boolean): number | undefined {
  const rec = readRecord(root);
  if (!explicit && !(rec && cur !== undefined && rec.generation <= cur)) return undefined;
  if (cur === 0) return 0; // "already current", said by the caller
  if (!readMeta(root, 0)) {
    writeGeneration(root, 0, [], { id: 0, time: new Date().toISOString(), manifestHash: "", treeHash: treeHash([]), state: "good", note: "no generation: the node before archy-quadlet" });
  }
  return 0;
}
