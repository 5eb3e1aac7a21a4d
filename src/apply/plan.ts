// The apply plan: from (files now active, files to activate) to the exact
// systemctl/podman steps. Pure. Works from unit file text alone, so the same
// code plans an apply, a rollback and a reconcile.
import { cmp } from "../manifest/diagnostics.js";
import { UNIT_DIR, NETWORK } from "../lower/lower.js";
import { SYSTEM_UNIT_DIR } from "../lower/system-units.js";

export interface TreeFile {
  content: Buffer;
  mode: number;
}
export type Tree = Map<string, TreeFile>;

export type Step =
  | { action: "stop" | "start" | "restart"; unit: string; why: string }
  | { action: "network-rm"; network: string; why: string };

export interface Plan {
  changed: string[];
  daemonReload: boolean;
  steps: Step[];
  notes: string[];
}

const NETWORK_SERVICE = `${NETWORK.name}-network.service`;

export function serviceOf(unitFile: string): string | undefined {
  const base = unitFile.slice(unitFile.lastIndexOf("/") + 1);
  const m = /^(.+)\.(container|build|network)$/.exec(base);
  if (!m) return undefined;
  return m[2] === "container" ? `${m[1]}.service` : `${m[1]}-${m[2]}.service`;
}

function same(a: TreeFile | undefined, b: TreeFile | undefined): boolean {
  if (!a || !b) return a === b;
  return a.mode === b.mode && a.content.equals(b.content);
}

/** service → services it must start after (from After= and quadlet's implicit edges). */
export function dependencyEdges(trees: Tree[]): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const t of trees) {
    for (const [path, f] of t) {
      if (!path.startsWith(`${UNIT_DIR}/`) || !path.endsWith(".container")) continue;
      const svc = serviceOf(path)!;
      const set = edges.get(svc) ?? new Set<string>();
      const text = f.content.toString("utf8");
      for (const m of text.matchAll(/^After=(\S+)$/gm)) set.add(m[1]!);
      const img = /^Image=(\S+)\.build$/m.exec(text);
      if (img) set.add(`${img[1]}-build.service`);
      if (/^Network=\S+\.network$/m.test(text)) set.add(NETWORK_SERVICE);
      edges.set(svc, set);
    }
  }
  return edges;
}

/** Dependencies first; ties by name. Services outside the graph sort by name at the end. */
export function orderServices(services: Iterable<string>, edges: Map<string, Set<string>>): string[] {
  const want = new Set(services);
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (s: string, stack: Set<string>) => {
    if (seen.has(s) || stack.has(s)) return;
    stack.add(s);
    for (const d of [...(edges.get(s) ?? [])].sort(cmp)) visit(d, stack);
    stack.delete(s);
    seen.add(s);
    if (want.has(s)) out.push(s);
  };
  for (const s of [...want].sort(cmp)) visit(s, new Set());
  return out;
}

function consumers(tree: Tree, absPath: string): string[] {
  const out: string[] = [];
  for (const [path, f] of tree) {
    if (!path.startsWith(`${UNIT_DIR}/`) || !path.endsWith(".container")) continue;
    if (f.content.toString("utf8").includes(absPath)) out.push(serviceOf(path)!);
  }
  return out;
}

export function computePlan(active: Tree, next: Tree): Plan {
  const paths = [...new Set([...active.keys(), ...next.keys()])].sort(cmp);
  const changed = paths.filter((p) => !same(active.get(p), next.get(p)));
  const notes: string[] = [];
  const stop = new Map<string, string>();
  const start = new Map<string, string>();
  const restart = new Map<string, string>();
  let daemonReload = false;
  let networkChanged = false;

  const addRestart = (svc: string, why: string) => {
    if (!start.has(svc) && !stop.has(svc) && !restart.has(svc)) restart.set(svc, why);
  };

  for (const p of changed) {
    const before = active.get(p);
    const after = next.get(p);
    if (p.startsWith(`${UNIT_DIR}/`)) {
      daemonReload = true;
      const svc = serviceOf(p);
      if (!svc) continue;
      if (p.endsWith(".network")) {
        if (before && after) networkChanged = true;
        else if (!after) stop.set(svc, "network unit removed");
      } else if (p.endsWith(".container")) {
        if (!after) stop.set(svc, "app removed");
        else if (!before) start.set(svc, "new");
        else restart.set(svc, "unit changed");
      } else if (p.endsWith(".build") && before && after) {
        const name = p.slice(p.lastIndexOf("/") + 1);
        for (const c of consumers(next, `Image=${name}`)) addRestart(c, `image build ${name} changed`);
      }
    } else if (p.startsWith(`${SYSTEM_UNIT_DIR}/`)) {
      daemonReload = true;
      const name = p.slice(p.lastIndexOf("/") + 1);
      if (after && /\.(timer|path)$/.test(name)) (before ? restart : start).set(name, before ? "unit changed" : "new");
      if (!after && /\.(timer|path)$/.test(name)) stop.set(name, "unit removed");
    } else if (p.startsWith("etc/archy/build/")) {
      const name = p.split("/")[3]!;
      if (next.has(`${UNIT_DIR}/${name}.container`)) addRestart(`${name}.service`, `build context changed: /${p}`);
    } else if (p.startsWith("etc/archy/")) {
      for (const c of consumers(next, `/${p}`)) addRestart(c, `config changed: /${p}`);
    } else if (p.includes("containers.conf.d/")) {
      notes.push(`/${p} changed: takes effect as each container next starts`);
    }
  }

  const edges = dependencyEdges([active, next]);
  const steps: Step[] = [];
  for (const svc of orderServices(stop.keys(), edges).reverse()) steps.push({ action: "stop", unit: svc, why: stop.get(svc)! });

  if (networkChanged) {
    // Quadlet never alters an existing network: every member stops, the network is removed, all start again.
    const members = [...next.keys()].filter((p) => p.startsWith(`${UNIT_DIR}/`) && p.endsWith(".container")).map((p) => serviceOf(p)!);
    const memberSet = new Set(members.filter((m) => !start.has(m)));
    for (const svc of orderServices(memberSet, edges).reverse()) steps.push({ action: "stop", unit: svc, why: "network definition changed" });
    steps.push({ action: "stop", unit: NETWORK_SERVICE, why: "network definition changed" });
    steps.push({ action: "network-rm", network: NETWORK.name, why: "network definition changed" });
    steps.push({ action: "start", unit: NETWORK_SERVICE, why: "network definition changed" });
    for (const m of memberSet) {
      restart.delete(m);
      start.set(m, "network definition changed");
    }
  }

  const up = new Map<string, Step>();
  for (const [svc, why] of restart) up.set(svc, { action: "restart", unit: svc, why });
  for (const [svc, why] of start) up.set(svc, { action: "start", unit: svc, why });
  for (const svc of orderServices(up.keys(), edges)) steps.push(up.get(svc)!);

  return { changed, daemonReload, steps, notes };
}

export function formatPlan(plan: Plan): string {
  if (plan.changed.length === 0) return "plan: nothing to do";
  const lines = [`plan: ${plan.changed.length} file${plan.changed.length === 1 ? "" : "s"} change${plan.daemonReload ? ", systemctl daemon-reload" : ""}`];
  for (const s of plan.steps) {
    if (s.action === "network-rm") lines.push(`  podman network rm ${s.network}  (${s.why})`);
    else lines.push(`  ${s.action.padEnd(7)} ${s.unit}  (${s.why})`);
  }
  if (plan.steps.length === 0) lines.push("  no service needs to start, stop or restart");
  for (const n of plan.notes) lines.push(`  note: ${n}`);
  return lines.join("\n");
}
