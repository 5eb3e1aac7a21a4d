// graph: the dependency graph of the catalog (or a selection) as Mermaid or
// Graphviz dot. Apps are subgraphs holding their containers (and .build units);
// an edge A → B reads "A requires B", labelled with the condition; optional
// dependencies are dashed. Output is a pure function of the manifests.
import { cmp } from "../manifest/diagnostics.js";
import { NETWORK, buildUnitName } from "../lower/lower.js";
import type { Graph } from "../graph/graph.js";
import { compileOrExit, type CommonOpts } from "./compile-cmds.js";
import { Failure } from "../outcome.js";
import { out } from "./io.js";

export const GRAPH_FORMATS = ["mermaid", "dot"] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

export interface GraphModel {
  apps: { id: string; name: string; kind: string; role: string | null; containers: { name: string; build: string | null }[] }[];
  /** Between apps: every container of `from` requires every container of `to`. */
  appEdges: { from: string; to: string; as: string; condition: string; optional: boolean; containers: string[] | null }[];
  /** Within an app (depends_on). */
  containerEdges: { from: string; to: string; condition: string; optional: boolean }[];
  network: { name: string; subnet: string };
}

export function graphModel(g: Graph): GraphModel {
  const apps = g.apps
    .map((a) => ({
      id: a.app.id,
      name: a.app.name,
      kind: a.app.kind,
      role: a.app.provides?.role ?? null,
      containers: g.containers
        .filter((n) => n.app.id === a.app.id)
        .map((n) => ({ name: n.name, build: n.spec.build ? buildUnitName(n) : null }))
        .sort((x, y) => cmp(x.name, y.name)),
    }))
    .sort((x, y) => cmp(x.id, y.id));
  const appEdges: GraphModel["appEdges"] = [];
  for (const [from, deps] of g.appDeps) {
    for (const d of deps) appEdges.push({ from, to: d.id, as: d.key, condition: d.dep.condition, optional: d.dep.optional, containers: d.dep.containers ? [...d.dep.containers].sort(cmp) : null });
  }
  appEdges.sort((a, b) => cmp(a.from, b.from) || cmp(a.to, b.to));
  const containerEdges: GraphModel["containerEdges"] = [];
  for (const n of g.containers) {
    for (const d of n.deps) {
      if (!d.via.startsWith("containers.")) continue;
      containerEdges.push({ from: n.name, to: d.to, condition: d.dep.condition, optional: d.dep.optional });
    }
  }
  containerEdges.sort((a, b) => cmp(a.from, b.from) || cmp(a.to, b.to));
  return { apps, appEdges, containerEdges, network: { name: NETWORK.name, subnet: NETWORK.subnet } };
}

const id = (prefix: string, name: string) => `${prefix}_${name.replace(/[^A-Za-z0-9]/g, "_")}`;
const label = (e: { condition: string; optional: boolean; as?: string; to?: string; containers?: string[] | null }) =>
  `${e.condition}${e.optional ? ", optional" : ""}${e.as && e.to && e.as !== e.to ? `, via ${e.as}` : ""}${e.containers ? `, only ${e.containers.join(" ")}` : ""}`;
const quoteMermaid = (s: string) => s.replace(/"/g, "#quot;");

export function toMermaid(m: GraphModel): string {
  const o: string[] = [
    "%% archy-quadlet graph: A --> B means A requires B (label: wait condition); dashed = optional (Wants=).",
    "flowchart LR",
    `  ${id("net", m.network.name)}[("${m.network.name}.network ${m.network.subnet}<br/>every container joins it")]`,
  ];
  for (const a of m.apps) {
    const title = `${a.id}${a.role ? ` (role ${a.role})` : ""}${a.kind === "ui" ? " [ui]" : ""}`;
    o.push(`  subgraph ${id("app", a.id)}["${quoteMermaid(title)}"]`);
    o.push("    direction TB");
    for (const c of a.containers) {
      o.push(`    ${id("c", c.name)}["${c.name}"]`);
      if (c.build) o.push(`    ${id("b", c.build)}[/"${c.build}"/]`);
    }
    for (const c of a.containers) if (c.build) o.push(`    ${id("c", c.name)} -->|image| ${id("b", c.build)}`);
    o.push("  end");
  }
  for (const e of m.containerEdges) o.push(`  ${id("c", e.from)} ${e.optional ? "-.->" : "-->"}|${label(e)}| ${id("c", e.to)}`);
  for (const e of m.appEdges) o.push(`  ${id("app", e.from)} ${e.optional ? "-.->" : "-->"}|${label(e)}| ${id("app", e.to)}`);
  return o.join("\n");
}

const dq = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;

export function toDot(m: GraphModel): string {
  const o: string[] = [
    "// archy-quadlet graph: A -> B means A requires B (label: wait condition); dashed = optional (Wants=).",
    "digraph archy {",
    "  rankdir=LR;",
    "  compound=true;",
    '  node [shape=box, fontname="sans-serif"];',
    '  edge [fontname="sans-serif", fontsize=10];',
    `  ${dq(`${m.network.name}.network`)} [shape=cylinder, label=${dq(`${m.network.name}.network\n${m.network.subnet}\nevery container joins it`)}];`,
  ];
  // Edges between clusters attach to a representative node (the first container) with lhead/ltail.
  const first = new Map(m.apps.map((a) => [a.id, a.containers[0]?.name ?? a.id]));
  for (const a of m.apps) {
    const title = `${a.id}${a.role ? ` (role ${a.role})` : ""}${a.kind === "ui" ? " [ui]" : ""}`;
    o.push(`  subgraph ${dq(`cluster_${a.id}`)} {`);
    o.push(`    label=${dq(title)};`);
    for (const c of a.containers) {
      o.push(`    ${dq(c.name)};`);
      if (c.build) o.push(`    ${dq(c.build)} [shape=component];`);
    }
    for (const c of a.containers) if (c.build) o.push(`    ${dq(c.name)} -> ${dq(c.build)} [label="image"];`);
    o.push("  }");
  }
  const style = (optional: boolean) => (optional ? ", style=dashed" : "");
  for (const e of m.containerEdges) o.push(`  ${dq(e.from)} -> ${dq(e.to)} [label=${dq(label(e))}${style(e.optional)}];`);
  for (const e of m.appEdges) {
    o.push(`  ${dq(first.get(e.from)!)} -> ${dq(first.get(e.to)!)} [label=${dq(label(e))}, ltail=${dq(`cluster_${e.from}`)}, lhead=${dq(`cluster_${e.to}`)}${style(e.optional)}];`);
  }
  o.push("}");
  return o.join("\n");
}

export function graphCmd(o: CommonOpts & { format?: string }): void {
  const format = (o.format ?? "mermaid") as GraphFormat;
  if (!GRAPH_FORMATS.includes(format)) throw new Failure("invalid", `--format: expected ${GRAPH_FORMATS.join(" or ")}, got "${o.format}"`);
  const r = compileOrExit(o);
  const m = graphModel(r.graph!);
  out(format === "dot" ? toDot(m) : toMermaid(m));
}
