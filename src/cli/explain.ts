// explain APP: what one app turns into on a node — the exact `podman run` argv
// quadlet derives from its units, its dependency chain, the derived files it
// consumes and what restarts it. Read-only; runs the real quadlet in dry-run mode.
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { defaultAdapter, type SystemAdapter } from "../apply/adapter.js";
import { deriveConfigs, CONTAINERS_CONF_DROPIN, BITCOIN_ROLE, rpcSecretName } from "../configs/derive.js";
import { UNIT_DIR, NETWORK, buildContextDir, buildUnitName, imageTag, type ContainerConfigs, type OutputFile } from "../lower/lower.js";
import { cmp } from "../manifest/diagnostics.js";
import { redact } from "../plan/tree.js";
import type { ContainerNode, Graph } from "../graph/graph.js";
import { execArgv } from "../unit/exec.js";
import { quadletBin, quadletDryRun } from "../unit/quadlet.js";
import { unitValues } from "../unit/unitfile.js";
import { compileOrExit, type CommonOpts } from "./compile-cmds.js";
import { Failure } from "../outcome.js";
import { err, out } from "./io.js";

export interface ExplainOpts extends CommonOpts {
  quadlet?: string;
}

export type QuadletStatus = "ok" | "missing" | "failed";

export interface RestartTrigger {
  /** unit | image | config | build | dependency | network */
  kind: "unit" | "image" | "config" | "build" | "dependency" | "network";
  /** File (absolute on the node), unit or service the trigger is about. */
  what: string;
  detail: string;
}

export interface ExplainedContainer {
  name: string;
  key: string;
  service: string;
  unit: string;
  image: string;
  build: { unit: string; service: string; context: string; files: string[]; argv: string[] | null } | null;
  argv: string[] | null;
  healthcheck: boolean;
  /** Others wait for this container's health: the unit reports ready only once healthy (Notify=healthy). */
  healthGated: boolean;
  files: { path: string; kind: string; mount: string | null; envFile: boolean; secret: boolean; inputs: string[] }[];
  dependsOn: { container: string; condition: string; optional: boolean; via: string }[];
  restartOn: RestartTrigger[];
}

export interface ExplainReport {
  app: { id: string; name: string; version: string; kind: string; description: string; manifest: string; provides: string | null };
  quadlet: { status: QuadletStatus; bin: string; message: string | null };
  containers: ExplainedContainer[];
  dependencies: {
    /** `containers`: the dependent app's containers the dependency applies to (null: all). */
    requires: { app: string; as: string; condition: string; optional: boolean; healthGated: boolean; containers: string[] | null }[];
    requiredBy: { app: string; as: string; condition: string; optional: boolean; healthGated: boolean; containers: string[] | null }[];
    /** Apps this one needs, transitively, in start order, ending with this app. */
    startOrder: string[];
    /** Apps stopped or restarted with this one (Requires= propagates; Wants= does not). */
    stopsWith: string[];
  };
  notRestartedBy: string[];
}

export async function explainCmd(app: string, o: ExplainOpts, adapter: SystemAdapter = defaultAdapter()): Promise<void> {
  const r = compileOrExit(o);
  const report = await explain(app, r.graph!, r.files, r.secrets, o, adapter);
  if (report.quadlet.status !== "ok") err(`warning: ${report.quadlet.message}`);
  if (o.json) out(JSON.stringify(report, null, 2));
  else out(formatExplain(report));
  if (report.quadlet.status === "failed") throw new Failure("failed");
}

export async function explain(
  appId: string,
  g: Graph,
  files: OutputFile[],
  secrets: Parameters<typeof deriveConfigs>[1],
  o: { quadlet?: string; select?: string },
  adapter: SystemAdapter,
): Promise<ExplainReport> {
  const loaded = g.apps.find((a) => a.app.id === appId);
  if (!loaded) {
    const known = g.apps.map((a) => a.app.id).join(", ");
    throw new Failure("invalid", `error: no app "${appId}" ${o.select ? `in the selection ${o.select}` : "in the catalog"} (known: ${known})`);
  }
  const app = loaded.app;
  const nodes = g.containers.filter((n) => n.app.id === appId).sort((a, b) => cmp(a.name, b.name));
  const derived = deriveConfigs(g, secrets, []);
  const fileByPath = new Map(files.map((f) => [f.path, f]));
  // Only this app's units (and the network they join): another app's problem is not this one's.
  const own = new Set([`${UNIT_DIR}/${NETWORK.name}.network`, ...nodes.flatMap((n) => [`${UNIT_DIR}/${n.name}.container`, `${UNIT_DIR}/${buildUnitName(n)}`])]);
  const q = await dryRun(files.filter((f) => own.has(f.path)), quadletBin(o.quadlet), adapter, secrets.values());

  const healthGated = new Set<string>();
  for (const n of g.containers) for (const d of n.deps) if (d.dep.condition === "healthy") healthGated.add(d.to);
  const consumers = g.apps.filter((a) => a.app.bitcoin_rpc).map((a) => a.app.id).sort(cmp);
  const provider = g.roles.get(BITCOIN_ROLE);

  const containers: ExplainedContainer[] = nodes.map((n) => {
    const cfg: ContainerConfigs = derived.containers.get(n.name) ?? { mounts: [], envFiles: [] };
    const kindOf = (abs: string) => abs.slice(abs.lastIndexOf("/") + 1);
    const inputsOf = (kind: string): string[] => {
      if (kind === "bitcoin.conf") return [`selection setting bitcoin_network`, `RPC consumers: ${consumers.join(", ") || "none"} (one rpcauth line each)`];
      return [`secret ${rpcSecretName(n.app.id)}`, `bitcoin host: ${provider ? g.containers.find((c) => c.app.id === provider && c.spec.configs?.some((x) => x.kind === "bitcoin.conf"))?.name ?? provider : "none"}`];
    };
    const cfgFiles = [
      ...cfg.mounts.map((m) => ({ path: m.host, kind: kindOf(m.host), mount: m.target, envFile: false })),
      ...cfg.envFiles.map((p) => ({ path: p, kind: kindOf(p), mount: null, envFile: true })),
    ].map((f) => ({ ...f, secret: fileByPath.get(f.path.slice(1))?.secret === true, inputs: inputsOf(f.kind) }));
    cfgFiles.sort((a, b) => cmp(a.path, b.path));

    let build: ExplainedContainer["build"] = null;
    if (n.spec.build) {
      const dir = buildContextDir(n);
      const ctxFiles = files.filter((f) => f.path.startsWith(`${dir.slice(1)}/`)).map((f) => f.path.slice(dir.length));
      build = {
        unit: `/${UNIT_DIR}/${buildUnitName(n)}`,
        service: `${n.name}-build.service`,
        context: `${dir}/`,
        files: ctxFiles,
        argv: canonical(q.argv.get(`${n.name}-build.service`), (a) => a[a.length - 1]!),
      };
    }
    const dependsOn = [...n.deps]
      .sort((a, b) => cmp(a.to, b.to))
      .map((d) => ({ container: d.to, condition: d.dep.condition, optional: d.dep.optional, via: d.via }));
    return {
      name: n.name,
      key: n.key,
      service: `${n.name}.service`,
      unit: `/${UNIT_DIR}/${n.name}.container`,
      image: n.spec.build ? imageTag(n) : n.spec.image!,
      build,
      argv: canonical(q.argv.get(`${n.name}.service`), () => (n.spec.build ? imageTag(n) : n.spec.image!)),
      healthcheck: n.spec.healthcheck !== undefined,
      healthGated: healthGated.has(n.name),
      files: cfgFiles,
      dependsOn,
      restartOn: restartTriggers(n, cfgFiles, build),
    };
  });

  const appDeps = g.appDeps.get(appId) ?? [];
  const requires = appDeps
    .map((d) => ({ app: d.id, as: d.key, condition: d.dep.condition, optional: d.dep.optional, healthGated: d.dep.condition === "healthy", containers: d.dep.containers ? [...d.dep.containers].sort(cmp) : null }))
    .sort((a, b) => cmp(a.app, b.app));
  const requiredBy: ExplainReport["dependencies"]["requiredBy"] = [];
  for (const [id, deps] of [...g.appDeps].sort((a, b) => cmp(a[0], b[0]))) {
    for (const d of deps) {
      if (d.id === appId) requiredBy.push({ app: id, as: d.key, condition: d.dep.condition, optional: d.dep.optional, healthGated: d.dep.condition === "healthy", containers: d.dep.containers ? [...d.dep.containers].sort(cmp) : null });
    }
  }

  return {
    app: { id: app.id, name: app.name, version: app.version, kind: app.kind, description: app.description, manifest: loaded.file, provides: app.provides?.role ?? null },
    quadlet: { status: q.status, bin: q.bin, message: q.message },
    containers,
    dependencies: { requires, requiredBy, startOrder: startOrder(g, appId), stopsWith: stopsWith(g, appId) },
    notRestartedBy: [`/${CONTAINERS_CONF_DROPIN} (read by podman when a container next starts)`],
  };
}

const canonical = (argv: string[] | undefined, image: (a: string[]) => string) => (argv ? canonicalArgv(argv, image(argv)) : null);

function restartTriggers(n: ContainerNode, files: ExplainedContainer["files"], build: ExplainedContainer["build"]): RestartTrigger[] {
  const t: RestartTrigger[] = [];
  t.push({ kind: "unit", what: `/${UNIT_DIR}/${n.name}.container`, detail: `any change to its unit (fields of containers.${n.key} in ${n.file}, the app version, derived-file hashes)` });
  if (build) {
    t.push({ kind: "image", what: imageTag(n), detail: `the image tag follows the app version; a new version rebuilds and restarts` });
    t.push({ kind: "build", what: build.unit, detail: "its build unit changes (tag, build args, target, context hash): rebuild, then restart" });
    t.push({ kind: "build", what: build.context, detail: `any file of the build context changes (${build.files.length} file${build.files.length === 1 ? "" : "s"})` });
  } else {
    t.push({ kind: "image", what: n.spec.image!, detail: "a different image reference changes the unit; the same tag is never re-pulled" });
  }
  for (const f of files) t.push({ kind: "config", what: f.path, detail: f.envFile ? "derived environment file changes" : `derived file changes (mounted at ${f.mount})` });
  for (const d of [...n.deps].sort((a, b) => cmp(a.to, b.to))) {
    if (d.dep.optional) continue;
    t.push({ kind: "dependency", what: `${d.to}.service`, detail: "a required unit is restarted or stopped (systemd Requires= propagates)" });
  }
  t.push({ kind: "network", what: `/${UNIT_DIR}/${NETWORK.name}.network`, detail: "the shared network definition changes (every container stops, the network is recreated)" });
  return t;
}

/** Apps this one needs, transitively, in the graph's start order, ending with the app itself. */
function startOrder(g: Graph, appId: string): string[] {
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

/** Apps that require this one through Requires= chains (stop/restart propagates to them). */
function stopsWith(g: Graph, appId: string): string[] {
  const out = new Set<string>();
  const stack = [appId];
  while (stack.length > 0) {
    const cur = stack.pop()!;
    for (const [id, deps] of g.appDeps) {
      if (out.has(id) || id === appId) continue;
      if (deps.some((d) => d.id === cur && !d.dep.optional)) {
        out.add(id);
        stack.push(id);
      }
    }
  }
  return [...out].sort(cmp);
}

interface DryRunResult {
  status: QuadletStatus;
  bin: string;
  message: string | null;
  argv: Map<string, string[]>;
}

/** Write the units to a temp dir and run `quadlet -dryrun` on them through the adapter. */
async function dryRun(files: OutputFile[], bin: string, adapter: SystemAdapter, secretValues: readonly string[]): Promise<DryRunResult> {
  const argv = new Map<string, string[]>();
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    return { status: "missing", bin, message: `quadlet not found at ${bin}: the podman argv cannot be shown (install Podman >= 4.4, pass --quadlet PATH or set QUADLET_BIN)`, argv };
  }
  const tmp = mkdtempSync(join(tmpdir(), "archy-explain-"));
  try {
    for (const f of files) {
      if (!f.path.startsWith(`${UNIT_DIR}/`)) continue;
      const abs = join(tmp, f.path);
      mkdirSync(dirname(abs), { recursive: true });
      writeFileSync(abs, f.content);
    }
    const r = await quadletDryRun(adapter, bin, join(tmp, dirname(UNIT_DIR)));
    if (r.code === 127) return { status: "missing", bin, message: `quadlet could not be run at ${bin}: ${r.stderr.trim()}`, argv };
    const problems = [...r.errors];
    for (const [service, text] of r.services) {
      const line = unitValues(text, "Service", "ExecStart")[0];
      if (line === undefined) continue;
      try {
        argv.set(service, execArgv(line).map((w) => redact(w, secretValues)));
      } catch (e) {
        problems.push(`${service}: ExecStart= cannot be parsed: ${(e as Error).message}`);
      }
    }
    if (r.code !== 0 || problems.length > 0) {
      return { status: "failed", bin, message: `quadlet -dryrun exited ${r.code}${problems.length ? `:\n${problems.join("\n")}` : ""}`, argv };
    }
    return { status: "ok", bin, message: null, argv };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** POSIX-shell quoting for display: a word that needs it goes in single quotes. */
export function shellQuote(w: string): string {
  if (w !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(w)) return w;
  return `'${w.replace(/'/g, `'\\''`)}'`;
}

/**
 * Split `podman <verb> [options] IMAGE [command…]` into the program and verb, one
 * group per option (the flag and the words after it up to the next flag), and the
 * image with its command. `image` is the word that ends the options.
 */
export function argvGroups(argv: string[], image: string): { head: string[]; options: string[][]; tail: string[] } {
  const at = argv.lastIndexOf(image);
  const end = at >= 2 ? at : argv.length;
  const options: string[][] = [];
  for (const w of argv.slice(2, end)) {
    if (w.startsWith("-") || options.length === 0) options.push([w]);
    else options[options.length - 1]!.push(w);
  }
  return { head: argv.slice(0, 2), options, tail: argv.slice(end) };
}

/**
 * Options in a canonical order: sorted by flag, repeated flags keeping their order.
 * Quadlet (5.4) emits some options in Go map order, which changes from run to run;
 * podman parses options order-independently, so this is the same command, and
 * explain's output stays diffable between runs and releases.
 */
export function canonicalArgv(argv: string[], image: string): string[] {
  const g = argvGroups(argv, image);
  const flag = (o: string[]) => o[0]!.split("=")[0]!;
  const options = g.options.map((o, i) => ({ o, i })).sort((a, b) => cmp(flag(a.o), flag(b.o)) || a.i - b.i);
  return [...g.head, ...options.flatMap((x) => x.o), ...g.tail];
}

/** An argv as a copy-pasteable command: one option per line, image and command last. */
export function formatArgv(argv: string[], image: string, indent: string): string {
  const g = argvGroups(argv, image);
  const lines = [g.head, ...g.options, ...(g.tail.length ? [g.tail] : [])];
  return lines.map((l, i) => `${i === 0 ? "" : `${indent}  `}${l.map(shellQuote).join(" ")}`).join(" \\\n");
}

export function formatExplain(r: ExplainReport): string {
  const o: string[] = [];
  const a = r.app;
  o.push(`${a.id}: ${a.name} ${a.version} (${a.kind}${a.provides ? `, provides role ${a.provides}` : ""}) from ${a.manifest}`);
  o.push(`  ${a.description}`);
  if (r.quadlet.status !== "ok") o.push("", `note: ${r.quadlet.message}`);

  o.push("", "Containers");
  for (const c of r.containers) {
    o.push(`  ${c.name}  (${c.service}, unit ${c.unit})`);
    o.push(`    image ${c.image}${c.build ? ` (built locally by ${c.build.service})` : ""}`);
    if (c.healthcheck) o.push(`    healthcheck: yes${c.healthGated ? "; health-gated: the unit reports started only once healthy (Notify=healthy), because others wait for it" : ""}`);
    if (c.build) {
      o.push(`    build context ${c.build.context}: ${c.build.files.join(", ")}`);
      if (c.build.argv) o.push(`    podman build (from quadlet -dryrun; options sorted):`, `      ${formatArgv(c.build.argv, c.build.argv[c.build.argv.length - 1]!, "      ")}`);
    }
    if (c.argv) o.push(`    podman run (from quadlet -dryrun; options sorted):`, `      ${formatArgv(c.argv, c.image, "      ")}`);
    else o.push(`    podman run: unavailable (${r.quadlet.status === "missing" ? "quadlet not found" : "quadlet failed"})`);
  }

  o.push("", "Dependencies");
  // `as` names the depended-on app (or its role) as the dependent's manifest writes it.
  const dep = (d: { app: string; as: string; condition: string; optional: boolean; containers: string[] | null }, owner: string, target: string) =>
    `${d.app}${d.as !== target ? ` (via role ${d.as})` : ""}  ${d.condition === "healthy" ? "healthy: waits until it reports healthy" : "started: ordering only"}${d.optional ? "; optional (Wants=)" : "; required (Requires=)"}${d.containers ? `; only for ${owner} ${d.containers.join(", ")}` : ""}`;
  o.push(`  requires:${r.dependencies.requires.length ? "" : " nothing"}`);
  for (const d of r.dependencies.requires) o.push(`    ${dep(d, "container", d.app)}`);
  o.push(`  required by:${r.dependencies.requiredBy.length ? "" : " nothing"}`);
  for (const d of r.dependencies.requiredBy) o.push(`    ${dep(d, `${d.app}'s`, a.id)}`);
  const inner = r.containers.flatMap((c) => c.dependsOn.filter((d) => d.via.startsWith("containers.")).map((d) => ({ from: c.name, ...d })));
  if (inner.length) {
    o.push("  inside the app:");
    for (const d of inner) o.push(`    ${d.from} → ${d.container}  ${d.condition === "healthy" ? "healthy" : "started"}${d.optional ? ", optional" : ""}`);
  }
  o.push(`  start order: ${r.dependencies.startOrder.join(" → ")}`);
  o.push(`  stopping or restarting it also stops or restarts: ${r.dependencies.stopsWith.join(", ") || "nothing else"}`);

  o.push("", "Derived files");
  const files = r.containers.flatMap((c) => c.files.map((f) => ({ c: c.name, ...f })));
  if (files.length === 0) o.push("  none");
  for (const f of files) {
    o.push(`  ${f.path} → ${f.envFile ? `${f.c} (environment file)` : `${f.c}:${f.mount} (read-only bind mount)`}${f.secret ? " [secret, 0600]" : ""}`);
    o.push(`    content depends on: ${f.inputs.join("; ")}`);
  }

  o.push("", "Restarts when");
  for (const c of r.containers) {
    o.push(`  ${c.service}:`);
    for (const t of c.restartOn) o.push(`    - ${t.what}: ${t.detail}`);
  }
  o.push(`  never restarted by: ${r.notRestartedBy.join("; ")}`);
  return o.join("\n");
}
