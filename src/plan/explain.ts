// explain APP as data: what one app turns into on a node — the podman argv
// quadlet derives from its units (given, from a dry run at the edge), its
// dependency chain, the derived files it consumes and what restarts it.
// Pure: the CLI runs quadlet and formats (src/cli/explain.ts).
import { CONTAINERS_CONF_DROPIN, BITCOIN_ROLE, rpcSecretName } from "../configs/derive.js";
import { UNIT_DIR, NETWORK, buildContextDir, buildUnitName, imageTag, type ContainerConfigs, type OutputFile } from "../lower/lower.js";
import { cmp } from "../manifest/diagnostics.js";
import type { ContainerNode, Graph } from "../graph/graph.js";
import { healthGated, requiredBy, requires, startOrder, type AppEdge } from "../graph/queries.js";
import { canonicalArgv } from "../unit/exec.js";
import { torNode } from "../configs/tor.js";
import { resolveSource } from "../adopt/storage.js";

export type QuadletStatus = "ok" | "missing" | "failed";

/** What the quadlet dry run gave: argv per service (already redacted), or why there is none. */
export interface QuadletView {
  status: QuadletStatus;
  bin: string;
  message: string | null;
  argv: Map<string, string[]>;
}

export interface RestartTrigger {
  kind: "unit" | "image" | "config" | "build" | "network";
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
  /** Values the selection's `overrides` set (field, value, selection file:line:col). */
  overrides: { field: string; value: string; from: string }[];
  /** Hand-written drop-ins on the node that change this unit or its service invisibly (src/settings/dropins.ts). */
  dropIns: string[];
  /** Where each volume's data lives on the node: the app's data root, or (adopted) the selection's storage mapping. */
  data: { source: string; target: string; app: string; host: string; volume: string | null; adopted: boolean; readOnly: boolean }[];
}

export interface ExplainedDependency {
  app: string;
  as: string;
  condition: string;
  optional: boolean;
  healthGated: boolean;
  /** The dependent app's containers the dependency applies to (null: all). */
  containers: string[] | null;
}

export interface ExplainReport {
  app: { id: string; name: string; version: string; kind: string; description: string; manifest: string; provides: string | null };
  quadlet: { status: QuadletStatus; bin: string; message: string | null };
  containers: ExplainedContainer[];
  dependencies: {
    requires: ExplainedDependency[];
    requiredBy: ExplainedDependency[];
    /** Apps this one needs, transitively, in start order, ending with this app. */
    startOrder: string[];
  };
  notRestartedBy: string[];
  /** For an app with `onion` entries (else null): whether tor is selected (else they are inert) and what they become. */
  onion: { active: boolean; note: string; services: { container: string; name: string; port: number; virtualPort: number; hiddenServiceDir: string | null }[] } | null;
}

/** One app's containers, by name. */
export function appContainers(g: Graph, appId: string): ContainerNode[] {
  return g.containers.filter((n) => n.app.id === appId).sort((a, b) => cmp(a.name, b.name));
}

/** The unit files quadlet needs to show this app's argv: its own units and the network they join. */
export function explainUnits(g: Graph, appId: string, files: OutputFile[]): OutputFile[] {
  const own = new Set([`${UNIT_DIR}/${NETWORK.name}.network`, ...appContainers(g, appId).flatMap((n) => [`${UNIT_DIR}/${n.name}.container`, `${UNIT_DIR}/${buildUnitName(n)}`])]);
  return files.filter((f) => own.has(f.path));
}

const dependency = (e: AppEdge): ExplainedDependency => ({
  app: e.app,
  as: e.as,
  condition: e.dep.condition,
  optional: e.dep.optional,
  healthGated: e.dep.condition === "healthy",
  containers: e.dep.containers ? [...e.dep.containers].sort(cmp) : null,
});

/** The report for an app of the graph (the caller checked it is there). */
export function explainReport(appId: string, g: Graph, files: OutputFile[], configs: ReadonlyMap<string, ContainerConfigs>, q: QuadletView, dropIns: ReadonlyMap<string, string[]> = new Map()): ExplainReport {
  const loaded = g.apps.find((a) => a.app.id === appId)!;
  const app = loaded.app;
  const fileByPath = new Map(files.map((f) => [f.path, f]));
  const gated = healthGated(g);
  const consumers = g.apps.filter((a) => a.app.bitcoin_rpc).map((a) => a.app.id).sort(cmp);
  const provider = g.roles.get(BITCOIN_ROLE);
  const bitcoinHost = provider ? (g.containers.find((c) => c.app.id === provider && c.spec.configs?.some((x) => x.kind === "bitcoin.conf"))?.name ?? provider) : "none";
  const canonical = (argv: string[] | undefined, image: (a: string[]) => string) => (argv ? canonicalArgv(argv, image(argv)) : null);

  const containers = appContainers(g, appId).map((n): ExplainedContainer => {
    const cfg = configs.get(n.name) ?? { mounts: [], envFiles: [] };
    const kindOf = (abs: string) => abs.slice(abs.lastIndexOf("/") + 1);
    const inputsOf = (kind: string): string[] =>
      kind === "torrc"
        ? ["onion entries of the selected apps (one HiddenServiceDir/HiddenServicePort each)", "their stable addresses (IP=)", `secret app-${n.app.id}-control-password (hashed)`]
        : kind === "bitcoin.conf"
        ? [`selection setting bitcoin_network`, `RPC consumers: ${consumers.join(", ") || "none"} (one rpcauth line each)`]
        : [`secret ${rpcSecretName(n.app.id)}`, `bitcoin host: ${bitcoinHost}`];
    const cfgFiles = [
      ...cfg.mounts.map((m) => ({ path: m.host, kind: kindOf(m.host), mount: m.target as string | null, envFile: false })),
      ...cfg.envFiles.map((p) => ({ path: p, kind: kindOf(p), mount: null, envFile: true })),
    ].map((f) => ({ ...f, secret: fileByPath.get(f.path.slice(1))?.secret === true, inputs: inputsOf(f.kind) }));
    cfgFiles.sort((a, b) => cmp(a.path, b.path));

    let build: ExplainedContainer["build"] = null;
    if (n.spec.build) {
      const dir = buildContextDir(n);
      build = {
        unit: `/${UNIT_DIR}/${buildUnitName(n)}`,
        service: `${n.name}-build.service`,
        context: `${dir}/`,
        files: files.filter((f) => f.path.startsWith(`${dir.slice(1)}/`)).map((f) => f.path.slice(dir.length)),
        argv: canonical(q.argv.get(`${n.name}-build.service`), (a) => a[a.length - 1]!),
      };
    }
    const image = n.spec.build ? imageTag(n) : n.spec.image!;
    return {
      name: n.name,
      key: n.key,
      service: `${n.name}.service`,
      unit: `/${UNIT_DIR}/${n.name}.container`,
      image,
      build,
      argv: canonical(q.argv.get(`${n.name}.service`), () => image),
      healthcheck: n.spec.healthcheck !== undefined,
      healthGated: gated.has(n.name),
      files: cfgFiles,
      dependsOn: [...n.deps].sort((a, b) => cmp(a.to, b.to)).map((d) => ({ container: d.to, condition: d.dep.condition, optional: d.dep.optional, via: d.via })),
      restartOn: restartTriggers(n, cfgFiles, build),
      overrides: [...(g.overrides?.get(n.name) ?? [])].map(([field, o]) => ({
        field,
        value: String(field.startsWith("environment.") ? n.spec.environment?.[field.slice("environment.".length)] : n.spec[field as "memory" | "pids_limit" | "stop_timeout" | "start_timeout"]),
        from: o.line !== undefined ? `${o.file}:${o.line}:${o.col ?? 1}` : o.file,
      })),
      dropIns: dropIns.get(n.name) ?? [],
      data: (n.spec.volumes ?? []).map((v) => {
        const w = resolveSource(g.selection, v.app ?? n.app.id, v.source);
        return { source: v.source, target: v.target, app: v.app ?? n.app.id, host: w.host, volume: w.kind === "volume" ? w.volume : null, adopted: w.kind !== "default", readOnly: v.read_only };
      }),
    };
  });

  return {
    app: { id: app.id, name: app.name, version: app.version, kind: app.kind, description: app.description, manifest: loaded.file, provides: app.provides?.role ?? null },
    quadlet: { status: q.status, bin: q.bin, message: q.message },
    containers,
    dependencies: { requires: requires(g, appId).map(dependency), requiredBy: requiredBy(g, appId).map(dependency), startOrder: startOrder(g, appId) },
    notRestartedBy: [`/${CONTAINERS_CONF_DROPIN} (read by podman when a container next starts)`],
    ...onionView(g, appId),
  };
}

function onionView(g: Graph, appId: string): Pick<ExplainReport, "onion"> {
  const entries = appContainers(g, appId).flatMap((n) => (n.spec.onion ?? []).map((o) => ({ n, o })));
  if (entries.length === 0) return { onion: null };
  const tor = torNode(g);
  const dataDir = tor?.spec.volumes?.find((v) => v.source === "data")?.target;
  const note = tor
    ? `tor (${tor.name}) serves them from the derived torrc, forwarding to the container's stable address (IP=); tor restarts only when the set of onion services changes; \`archy-quadlet connect ${appId}\` shows the addresses`
    : "inert: tor is not selected, so nothing is emitted for them (add tor to the selection for onion addresses)";
  return {
    onion: {
      active: tor !== undefined,
      note,
      services: entries.map(({ n, o }) => ({ container: n.name, name: o.name, port: o.port, virtualPort: o.virtual_port ?? o.port, hiddenServiceDir: tor && dataDir ? `${dataDir}/${appId}-${o.name}` : null })),
    },
  };
}

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
  // A provider's restart is not among them: dependencies are Wants= (README.md).
  t.push({ kind: "network", what: `/${UNIT_DIR}/${NETWORK.name}.network`, detail: "the shared network definition changes (every container stops, the network is recreated)" });
  return t;
}
