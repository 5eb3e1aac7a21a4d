// Questions about a built graph that explain (and anything else) asks: who waits
// for whose health, what starts before an app.
import { cmp } from "../manifest/diagnostics.js";
import type { AppDependency } from "../manifest/schema.js";
import type { Graph } from "./graph.js";

export interface AppEdge {
  /** The app at the other end. */
  app: string;
  /** How the dependent's manifest names the dependency (an app id or a role). */
  as: string;
  dep: AppDependency;
}

/**
 * Containers something waits on with `condition: healthy` (their units report ready only
 * once healthy: Notify=healthy). "Something" is any app of the catalog, selected or not,
 * whose dependency would resolve to this one: installing or removing that app must not
 * change the provider's unit (and so restart it).
 */
export function healthGated(g: Graph): Set<string> {
  const out = new Set<string>();
  for (const n of g.containers) for (const d of n.deps) if (d.dep.condition === "healthy") out.add(d.to);
  const selected = new Set(g.apps.map((a) => a.app.id));
  for (const { app } of g.catalog) {
    for (const [name, dep] of Object.entries(app.dependencies ?? {})) {
      const target = selected.has(name) ? name : g.roles.get(name);
      if (dep.condition !== "healthy" || !target || target === app.id) continue;
      for (const n of g.containers) if (n.app.id === target) out.add(n.name);
    }
  }
  return out;
}

/** The apps `appId` depends on, sorted by id. */
export function requires(g: Graph, appId: string): AppEdge[] {
  return (g.appDeps.get(appId) ?? []).map((d) => ({ app: d.id, as: d.key, dep: d.dep })).sort((a, b) => cmp(a.app, b.app));
}

/** The apps that depend on `appId`, sorted by id. */
export function requiredBy(g: Graph, appId: string): AppEdge[] {
  const out: AppEdge[] = [];
  for (const [id, deps] of [...g.appDeps].sort((a, b) => cmp(a[0], b[0]))) {
    for (const d of deps) if (d.id === appId) out.push({ app: id, as: d.key, dep: d.dep });
  }
  return out;
}

/** Apps this one needs, transitively, in the graph's start order, ending with the app itself. */
export function startOrder(g: Graph, appId: string): string[] {
  const need = new Set<string>([appId]);
  const stack = [appId];
  while (stack.length > 0) {
    for (const d of g.appDeps.get(stack.pop()!) ?? []) {
      if (!need.has(d.id)) {
        need.add(d.id);
        stack.push(d.id);
      }
    }
  }
  const order: string[] = [];
  for (const n of g.containers) if (need.has(n.app.id) && !order.includes(n.app.id)) order.push(n.app.id);
  return order;
}
