// The dependency graph: which apps are compiled (catalog or selection), how
// dependencies on roles resolve, container names, cycles, and a stable order.
import type { LoadedApp } from "../manifest/read.js";
import type { App, AppDependency, Container, Dependency, Selection } from "../manifest/schema.js";
import { cmp, type Diagnostic } from "../manifest/diagnostics.js";
import type { Settings } from "../settings/resolve.js";
import type { OverrideOrigins } from "../settings/apply.js";

export interface ContainerNode {
  app: App;
  file: string;
  key: string;
  /** Podman container name and unit stem: archy-<id>[-key] for UIs, <id>[-key] for services. */
  name: string;
  spec: Container;
  /** Edges to other containers (within the app, and to every container of a dependency app); `via` is the manifest field path. */
  deps: { to: string; dep: Dependency; via: string }[];
}

export interface Graph {
  apps: LoadedApp[];
  /** The whole catalog, selected or not: inputs that must not depend on the selection (bitcoin.conf's rpcauth lines). */
  catalog: LoadedApp[];
  /** Containers in dependency order (dependencies first), ties broken by name. */
  containers: ContainerNode[];
  byName: Map<string, ContainerNode>;
  /** role → provider app id, in this compile. */
  roles: Map<string, string>;
  /** app id → resolved dependency app ids (`key` is the app id or role as written) */
  appDeps: Map<string, { id: string; key: string; dep: AppDependency }[]>;
  selection?: Selection;
  /** The selected apps' settings and where each value comes from (src/settings/resolve.ts). */
  settings?: Settings;
  /** The selection's local overrides, per container and field (src/settings/apply.ts). */
  overrides?: OverrideOrigins;
}

export function containerName(app: App, key: string): string {
  const base = app.kind === "ui" ? `archy-${app.id}` : app.id;
  const keys = Object.keys(app.containers);
  return keys.length === 1 || key === app.id ? base : `${base}-${key}`;
}

export function buildGraph(all: LoadedApp[], selection: Selection | undefined, selFile: string | undefined, diags: Diagnostic[]): Graph | undefined {
  const start = diags.length;
  const byId = new Map(all.map((a) => [a.app.id, a]));
  let apps: LoadedApp[];
  if (selection) {
    apps = [];
    for (const [i, id] of selection.apps.entries()) {
      const a = byId.get(id);
      if (!a) diags.push({ file: selFile ?? "selection", path: `apps[${i}]`, message: `selection names unknown app "${id}"` });
      else if (!apps.includes(a)) apps.push(a);
    }
  } else apps = [...all];
  apps.sort((a, b) => cmp(a.app.id, b.app.id));

  // Roles: in a selection at most one provider each; in the catalog the default one.
  const roles = new Map<string, string>();
  const providers = new Map<string, LoadedApp[]>();
  for (const a of apps) {
    const role = a.app.provides?.role;
    if (role) providers.set(role, [...(providers.get(role) ?? []), a]);
  }
  for (const [role, ps] of [...providers].sort((x, y) => cmp(x[0], y[0]))) {
    if (selection) {
      if (ps.length > 1) {
        const second = selection.apps.indexOf(ps[1]!.app.id);
        diags.push({
          file: selFile ?? "selection",
          path: `apps[${second}]`,
          message: `${ps.map((p) => `"${p.app.id}"`).join(" and ")} both provide role "${role}"; select only one`,
        });
      } else roles.set(role, ps[0]!.app.id);
    } else {
      const defaults = ps.filter((p) => p.app.provides?.default);
      if (defaults.length > 1) {
        for (const d of defaults.slice(1)) diags.push({ file: d.file, path: "provides.default", message: `role "${role}" already has default provider "${defaults[0]!.app.id}"` });
      }
      roles.set(role, (defaults[0] ?? ps[0]!).app.id);
    }
  }

  const inSet = new Map(apps.map((a) => [a.app.id, a]));
  const appDeps = new Map<string, { id: string; key: string; dep: AppDependency }[]>();
  for (const a of apps) {
    const deps: { id: string; key: string; dep: AppDependency }[] = [];
    for (const [name, dep] of Object.entries(a.app.dependencies ?? {}).sort((x, y) => cmp(x[0], y[0]))) {
      const target = inSet.has(name) ? name : roles.get(name);
      if (!target) {
        if (dep.optional) continue;
        const known = byId.has(name) || [...all].some((x) => x.app.provides?.role === name);
        diags.push({
          file: a.file,
          path: `dependencies.${name}`,
          message: known
            ? `app "${a.app.id}" requires "${name}", which is not in this selection`
            : `app "${a.app.id}" depends on "${name}", but no app or role "${name}" exists`,
        });
        continue;
      }
      if (target === a.app.id) {
        diags.push({ file: a.file, path: `dependencies.${name}`, message: `app "${a.app.id}" depends on itself` });
        continue;
      }
      deps.push({ id: target, key: name, dep });
    }
    appDeps.set(a.app.id, deps);
  }

  for (const a of apps) {
    for (const [name, dep] of Object.entries(a.app.dependencies ?? {})) {
      for (const c of dep.containers ?? []) {
        if (!(c in a.app.containers)) diags.push({ file: a.file, path: `dependencies.${name}.containers`, message: `no container "${c}" in app "${a.app.id}"` });
      }
    }
  }

  const appCycle = findCycle([...appDeps.keys()], (id) => (appDeps.get(id) ?? []).map((d) => d.id));
  if (appCycle) {
    const file = inSet.get(appCycle[0]!)!.file;
    const edge = appDeps.get(appCycle[0]!)!.find((d) => d.id === appCycle[1]);
    diags.push({ file, path: `dependencies.${edge?.key ?? appCycle[1]}`, message: `dependency cycle: ${appCycle.join(" → ")}` });
  }

  // Containers and their names.
  const byName = new Map<string, ContainerNode>();
  const nodes: ContainerNode[] = [];
  for (const a of apps) {
    for (const [key, spec] of Object.entries(a.app.containers).sort((x, y) => cmp(x[0], y[0]))) {
      const name = containerName(a.app, key);
      const clash = byName.get(name);
      if (clash) {
        diags.push({ file: a.file, path: `containers.${key}`, message: `container name "${name}" is already used by app "${clash.app.id}" (${clash.file})` });
        continue;
      }
      const node: ContainerNode = { app: a.app, file: a.file, key, name, spec, deps: [] };
      byName.set(name, node);
      nodes.push(node);
    }
  }
  for (const n of nodes) {
    for (const [key, dep] of Object.entries(n.spec.depends_on ?? {})) {
      if (!(key in n.app.containers)) {
        diags.push({ file: n.file, path: `containers.${n.key}.depends_on.${key}`, message: `no container "${key}" in app "${n.app.id}"` });
      } else n.deps.push({ to: containerName(n.app, key), dep, via: `containers.${n.key}.depends_on.${key}` });
    }
    for (const { id, key: depKey, dep } of appDeps.get(n.app.id) ?? []) {
      if (dep.containers && !dep.containers.includes(n.key)) continue;
      const target = inSet.get(id)!.app;
      const targets = Object.entries(target.containers).sort((x, y) => cmp(x[0], y[0]));
      if (dep.condition === "healthy" && !targets.some(([, c]) => c.healthcheck)) {
        diags.push({ file: n.file, path: `dependencies.${depKey}.condition`, message: `app "${n.app.id}" waits for "${id}" to be healthy, but no container of "${id}" has a healthcheck` });
      }
      for (const [key] of targets) n.deps.push({ to: containerName(target, key), dep, via: `dependencies.${depKey}` });
    }
    for (const [key, c] of Object.entries(n.spec.depends_on ?? {})) {
      if (c.condition === "healthy" && !n.app.containers[key]?.healthcheck) {
        diags.push({ file: n.file, path: `containers.${n.key}.depends_on.${key}.condition`, message: `waits for container "${key}" to be healthy, but it has no healthcheck` });
      }
    }
  }
  if (!appCycle) {
    const cycle = findCycle(nodes.map((n) => n.name), (name) => byName.get(name)?.deps.map((d) => d.to) ?? []);
    if (cycle) {
      const from = byName.get(cycle[0]!)!;
      const via = from.deps.find((d) => d.to === cycle[1])?.via ?? `containers.${from.key}`;
      diags.push({ file: from.file, path: via, message: `container dependency cycle: ${cycle.join(" → ")}` });
    }
  }
  if (diags.length > start) return undefined;

  return { apps, catalog: all, containers: topoOrder(nodes, byName), byName, roles, appDeps, selection };
}

/** Iterative DFS; returns the first cycle found as a closed path (a → b → a). */
export function findCycle(ids: string[], next: (id: string) => string[]): string[] | undefined {
  const state = new Map<string, 1 | 2>();
  for (const root of [...ids].sort(cmp)) {
    if (state.has(root)) continue;
    const stack: { id: string; i: number; kids: string[] }[] = [{ id: root, i: 0, kids: next(root) }];
    state.set(root, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.i >= top.kids.length) {
        state.set(top.id, 2);
        stack.pop();
        continue;
      }
      const kid = top.kids[top.i++]!;
      const s = state.get(kid);
      if (s === 1) {
        const from = stack.findIndex((f) => f.id === kid);
        return [...stack.slice(from).map((f) => f.id), kid];
      }
      if (s === undefined) {
        state.set(kid, 1);
        stack.push({ id: kid, i: 0, kids: next(kid) });
      }
    }
  }
  return undefined;
}

/** Kahn's algorithm with a sorted ready set: deterministic, linear-ish. */
function topoOrder(nodes: ContainerNode[], byName: Map<string, ContainerNode>): ContainerNode[] {
  const indeg = new Map(nodes.map((n) => [n.name, 0]));
  const rdeps = new Map<string, string[]>();
  for (const n of nodes) {
    for (const d of n.deps) {
      indeg.set(n.name, indeg.get(n.name)! + 1);
      rdeps.set(d.to, [...(rdeps.get(d.to) ?? []), n.name]);
    }
  }
  const ready = nodes.filter((n) => indeg.get(n.name) === 0).map((n) => n.name).sort(cmp);
  const out: ContainerNode[] = [];
  while (ready.length > 0) {
    const name = ready.shift()!;
    out.push(byName.get(name)!);
    const freed: string[] = [];
    for (const r of rdeps.get(name) ?? []) {
      const d = indeg.get(r)! - 1;
      indeg.set(r, d);
      if (d === 0) freed.push(r);
    }
    if (freed.length > 0) {
      ready.push(...freed);
      ready.sort(cmp);
    }
  }
  return out;
}
