// Settings aimed at environment variables and command arguments, and the
// selection's local `overrides`, applied to the graph's containers before they
// are lowered: each container node gets its own copy of its spec, so the
// manifests (and other compiles of them) stay untouched. Pure.
import type { Graph } from "../graph/graph.js";
import type { Locate } from "../manifest/read.js";
import type { Override } from "../manifest/schema.js";
import { cmp, type Diagnostic } from "../manifest/diagnostics.js";
import { formatValue, show, type Settings } from "./resolve.js";

/** Where an overridden value comes from: selection file and position. */
export interface OverrideOrigin {
  file: string;
  line?: number;
  col?: number;
}

/** container name → field (memory, pids_limit, stop_timeout, start_timeout, environment.<NAME>) → origin. */
export type OverrideOrigins = Map<string, Map<string, OverrideOrigin>>;

export function applySettings(g: Graph, settings: Settings, select: string | undefined, locate: Locate | undefined, diags: Diagnostic[]): OverrideOrigins {
  for (const n of g.containers) {
    const env: Record<string, string> = {};
    const args: string[] = [];
    for (const r of settings.get(n.app.id)?.values() ?? []) {
      const to = r.decl.to;
      // At its default a setting leaves the manifest as written (the declaration's
      // default is what the manifest's environment/command already does).
      if (to.config !== undefined || r.origin.kind === "default" || !(to.containers ?? [n.key]).includes(n.key)) continue;
      const v = formatValue(r.value, "env");
      if (to.env !== undefined) env[to.env] = v;
      else if (to.arg !== undefined) {
        const word = to.arg.split("{value}").join(v);
        // The same rule as a manifest's command (schema.ts execWord): quadlet and systemd could not pass these.
        if (word === "" || word === ";") diags.push({ file: n.file, path: `settings.${r.key}.to.arg`, message: `${show(r.value)} makes the argument ${JSON.stringify(word)}, which cannot be passed through quadlet's Exec=` });
        else args.push(word);
      }
    }
    if (Object.keys(env).length === 0 && args.length === 0) continue;
    n.spec = {
      ...n.spec,
      ...(Object.keys(env).length ? { environment: { ...n.spec.environment, ...env } } : {}),
      ...(args.length && n.spec.command ? { command: [...n.spec.command, ...args] } : {}),
    };
  }

  const origins: OverrideOrigins = new Map();
  const file = select ?? "selection";
  const ids = new Set(g.apps.map((a) => a.app.id));
  for (const [k, byContainer] of Object.entries(g.selection?.overrides ?? {}).sort((x, y) => cmp(x[0], y[0]))) {
    const id = ids.has(k) ? k : g.roles.get(k);
    if (!id) {
      diags.push({ file, path: `overrides.${k}`, message: `no selected app or role "${k}"` });
      continue;
    }
    for (const [key, o] of Object.entries(byContainer)) {
      const n = g.containers.find((c) => c.app.id === id && c.key === key);
      if (!n) {
        const keys = g.containers.filter((c) => c.app.id === id).map((c) => c.key);
        diags.push({ file, path: `overrides.${k}.${key}`, message: `no container "${key}" in app "${id}" (its containers: ${keys.join(", ")})` });
        continue;
      }
      const mine = origins.get(n.name) ?? new Map<string, OverrideOrigin>();
      const mark = (field: string) => mine.set(field, { file, ...locate?.(`overrides.${k}.${key}.${field}`, "value") });
      const spec = { ...n.spec };
      for (const f of ["memory", "pids_limit", "stop_timeout", "start_timeout"] as const satisfies readonly (keyof Override)[]) {
        if (o[f] === undefined) continue;
        (spec as Record<string, unknown>)[f] = o[f];
        mark(f);
      }
      if (o.environment) {
        spec.environment = { ...spec.environment, ...o.environment };
        for (const name of Object.keys(o.environment)) mark(`environment.${name}`);
      }
      n.spec = spec;
      origins.set(n.name, mine);
    }
  }
  return origins;
}
