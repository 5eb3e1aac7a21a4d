// apply / rollback / generations / reconcile: the node-side commands.
import { join, resolve } from "node:path";
import { UserError } from "../manifest/diagnostics.js";
import { parseVersion } from "../lower/versions.js";
import { NODE } from "../lower/system-units.js";
import { defaultAdapter } from "../apply/adapter.js";
import { apply, rollback, reconcile, describeGenerations, DEFAULT_KEEP, type Env, type ApplyResult } from "../apply/apply.js";
import { Failure } from "../outcome.js";
import { out, err, reportDiagnostics } from "./io.js";
import { progress } from "./progress.js";

export interface NodeOpts {
  root: string;
  lockTimeout?: string;
  quadlet?: string;
  json?: boolean;
}

export function nodeEnv(o: NodeOpts): Env {
  // One line per step when piped or in the journal; on a terminal, long steps
  // (pulls, builds behind a restart) show as a single line rewritten in place.
  const p = progress(o.json ? process.stderr : process.stdout, o.json ? (l) => err(l) : (l) => out(l));
  return {
    root: resolve(o.root),
    adapter: p.wrap(defaultAdapter()),
    log: p.log,
    quadlet: o.quadlet,
    lockTimeoutMs: o.lockTimeout ? Number(o.lockTimeout) * 1000 : undefined,
  };
}

/** The apply layer's failures keep their kind and get the CLI's "error: " prefix; anything else is a bug. */
export async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof UserError) reportDiagnostics(e.diagnostics);
    if (e instanceof Failure) throw new Failure(e.kind, `error: ${e.message}`);
    const code = (e as NodeJS.ErrnoException).code;
    if (code && /^E[A-Z]+$/.test(code)) throw new Failure("failed", `error: ${(e as Error).message} — nothing switched unless a "switched to generation" line was printed`);
    throw e;
  }
}

function finish(r: ApplyResult, json: boolean | undefined): void {
  if (json) {
    out(
      JSON.stringify(
        {
          noop: r.noop,
          generation: r.generation ?? null,
          changed: r.plan.changed,
          daemonReload: r.plan.daemonReload,
          steps: r.plan.steps,
          notes: r.plan.notes,
          failures: r.failures,
        },
        null,
        2,
      ),
    );
  }
  if (r.failures.length > 0) {
    err(`error: ${r.failures.length} unit${r.failures.length > 1 ? "s" : ""} failed: ${r.failures.map((f) => f.unit).join(", ")} (generation ${r.generation} stays current)`);
    throw new Failure("failed");
  }
}

export async function applyCmd(o: NodeOpts & { manifests: string; select?: string; secrets?: string; podmanVersion?: string; dryRun?: boolean; keep?: string; replaceForeign?: string[]; fetchOnly?: boolean }): Promise<void> {
  const env = nodeEnv(o);
  const podman = o.podmanVersion ? parseVersion(o.podmanVersion) : undefined;
  if (o.podmanVersion && !podman) throw new Failure("invalid", `--podman-version: expected X.Y, got "${o.podmanVersion}"`);
  const keep = o.keep ? Number(o.keep) : DEFAULT_KEEP;
  if (!Number.isInteger(keep) || keep < 1) throw new Failure("invalid", `--keep: expected a positive integer, got "${o.keep}"`);
  const inputs = { manifests: o.manifests, select: o.select, secrets: o.secrets ?? join(env.root, NODE.secrets), podman: o.podmanVersion, keep };
  const r = await guarded(() => apply(env, inputs, { dryRun: o.dryRun, podman, replaceForeign: o.replaceForeign, fetchOnly: o.fetchOnly }));
  finish(r, o.json);
}

export async function rollbackCmd(o: NodeOpts & { to?: string }): Promise<void> {
  const to = o.to !== undefined ? Number(o.to) : undefined;
  if (o.to !== undefined && !Number.isInteger(to)) throw new Failure("invalid", `--to: expected a generation id, got "${o.to}"`);
  const r = await guarded(() => rollback(nodeEnv(o), to));
  finish(r, o.json);
}

export async function reconcileCmd(o: NodeOpts): Promise<void> {
  const r = await guarded(() => reconcile(nodeEnv(o)));
  if (!r) {
    if (o.json) out(JSON.stringify({ drift: false }));
    return;
  }
  finish(r, o.json);
}

export function generationsCmd(o: NodeOpts): void {
  const gens = describeGenerations(resolve(o.root));
  if (o.json) {
    out(JSON.stringify({ generations: gens }, null, 2));
    return;
  }
  if (gens.length === 0) {
    out("no generations yet (run apply)");
    return;
  }
  out("ID  CURRENT  STATE    TIME                      MANIFESTS         NOTE");
  for (const g of gens) {
    out(`${String(g.id).padEnd(3)} ${(g.current ? "*" : "").padEnd(8)} ${g.state.padEnd(8)} ${g.time.padEnd(25)} ${g.manifestHash.padEnd(17)} ${g.note ?? ""}`.trimEnd());
  }
}
