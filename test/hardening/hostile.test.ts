// The hostile value corpus (test/hostile/corpus.json) in every manifest string
// field that reaches a unit or a derived config. Each combination either reaches
// podman's argv literally (asserted on the real quadlet's output, batched) or is
// refused with a diagnostic that names the field. Derived configs (bitcoin.conf,
// lnd.conf, nginx.conf, the env files) are shown to take values from validated
// sources only: free text never changes them, and every line they have matches a
// template line with slot values from a closed alphabet.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { formatDiagnostic } from "../../src/manifest/diagnostics.js";
import { compile } from "../../src/plan/inputs.js";
import { ReviewSecrets } from "../../src/configs/secrets.js";
import { indexOfWords, unitValues } from "../helpers/quadlet.js";
import { podmanStoredHealthTest } from "../helpers/podman-health.js";
import { checkWithQuadlet, compileDir, diagnosticProblems, execStartArgv, scratch, writeCatalog, type Pending, type Raw } from "./helpers.js";

const REPO = join(import.meta.dirname, "../..");
interface CorpusValue {
  name: string;
  value: string | { repeat: string; length: number };
  expect: "keep" | "reject";
}
const corpus = JSON.parse(readFileSync(join(REPO, "test/hostile/corpus.json"), "utf8")) as { values: CorpusValue[] };
const VALUES = corpus.values.map((c) => ({
  ...c,
  value: typeof c.value === "string" ? c.value : c.value.repeat.repeat(Math.ceil(c.value.length / c.value.repeat.length)).slice(0, c.value.length),
}));
const STATS = join(import.meta.dirname, "hostile-stats.json");

type Services = Map<string, string>;
type Policy = "free" | "display" | "restricted";

interface Field {
  name: string;
  /** the diagnostic for a refused value must name this path (or a path below it) */
  path: string;
  /** a valid value the hostile one is combined with */
  base: string;
  policy: Policy;
  /** display text: the length limit */
  limit?: number;
  place(app: App, v: string): void;
  /** what is wrong with quadlet's output for an accepted value */
  check(s: Services, app: App, v: string): string[];
}

interface App extends Raw {
  id: string;
  containers: Record<string, Record<string, unknown>>;
}

const IMAGE = "docker.io/library/busybox:1.36";

function baseApp(id: string): App {
  return {
    id,
    name: "Hostile corpus",
    version: "1.0",
    kind: "service",
    description: "A hostile value in one field.",
    containers: {
      web: { image: IMAGE, command: ["run"], environment: { BASE: "1" }, healthcheck: { cmd: "true" } },
      built: { build: { context: "ctx", args: { BASE: "1" } } },
    },
  };
}

const web = (app: App) => app.containers.web!;
const nameOf = (app: App, key: string) => (Object.keys(app.containers).length === 1 || key === app.id ? app.id : `${app.id}-${key}`);

/** podman's argv for a service, or the reason there is none. */
function argv(s: Services, service: string): string[] | string {
  const text = s.get(service);
  if (text === undefined) return `quadlet produced no ${service}`;
  try {
    return execStartArgv(text);
  } catch (e) {
    return `${service}: ${(e as Error).message}`;
  }
}

function hasWords(s: Services, service: string, words: string[]): string[] {
  const a = argv(s, service);
  if (typeof a === "string") return [a];
  return indexOfWords(a, words) >= 0 ? [] : [`${service}: ${JSON.stringify(words)} not in argv`];
}

/** What podman will store as the health test for the --health-cmd text quadlet passes (helpers/podman-health.ts). */
function healthStored(s: Services, service: string, want: string[]): string[] {
  const a = argv(s, service);
  if (typeof a === "string") return [a];
  const i = a.indexOf("--health-cmd");
  if (i < 0) return [`${service}: no --health-cmd`];
  const got = podmanStoredHealthTest(a[i + 1]!);
  return JSON.stringify(got) === JSON.stringify(want) ? [] : [`${service}: --health-cmd ${JSON.stringify(a[i + 1])} is stored as ${JSON.stringify(got)}, want ${JSON.stringify(want)}`];
}

function jsonAfter(s: Services, service: string, flag: string, want: unknown): string[] {
  const a = argv(s, service);
  if (typeof a === "string") return [a];
  const i = a.indexOf(flag);
  if (i < 0) return [`${service}: no ${flag}`];
  let got: unknown;
  try {
    got = JSON.parse(a[i + 1]!);
  } catch {
    return [`${service}: ${flag} ${JSON.stringify(a[i + 1])} is not JSON`];
  }
  return JSON.stringify(got) === JSON.stringify(want) ? [] : [`${service}: ${flag} ${JSON.stringify(got)}, want ${JSON.stringify(want)}`];
}

function tail(s: Services, service: string, words: string[]): string[] {
  const a = argv(s, service);
  if (typeof a === "string") return [a];
  const got = a.slice(-words.length);
  return JSON.stringify(got) === JSON.stringify(words) ? [] : [`${service}: argv ends ${JSON.stringify(got)}, want ${JSON.stringify(words)}`];
}

/** Description= as systemd reads it: %% is %. (Description is text, trimmed; only specifiers are escaped.) */
function description(s: Services, service: string): string | undefined {
  const text = s.get(service);
  const d = text === undefined ? undefined : unitValues(text, "Unit", "Description")[0];
  return d?.replace(/%%/g, "%");
}

const FIELDS: Field[] = [
  {
    name: "name",
    path: "name",
    base: "App",
    policy: "display",
    limit: 80,
    place: (a, v) => (a.name = v),
    check: (s, a, v) => {
      const want = `${v} (${nameOf(a, "web")})`.trim();
      const got = description(s, `${nameOf(a, "web")}.service`);
      return got === want ? [] : [`Description=${JSON.stringify(got)}, want ${JSON.stringify(want)}`];
    },
  },
  {
    name: "description",
    path: "description",
    base: "Does things.",
    policy: "display",
    limit: 500,
    place: (a, v) => (a.description = v),
    check: () => [], // reaches no unit and no config (asserted below: files are identical to the base case's)
  },
  {
    name: "version",
    path: "version",
    base: "1.0",
    policy: "restricted",
    place: (a, v) => (a.version = v),
    check: (s, a, v) => [...hasWords(s, `${nameOf(a, "web")}.service`, ["--label", `archy.version=${v}`]), ...hasWords(s, `${nameOf(a, "built")}-build.service`, ["--tag", `localhost/archy/${nameOf(a, "built")}:${v}`])],
  },
  {
    name: "environment value",
    path: "containers.web.environment.V",
    base: "value",
    policy: "free",
    place: (a, v) => ((web(a).environment as Record<string, string>).V = v),
    check: (s, a, v) => hasWords(s, `${nameOf(a, "web")}.service`, ["--env", `V=${v}`]),
  },
  {
    name: "environment name",
    path: "containers.web.environment",
    base: "NAME",
    policy: "restricted",
    place: (a, v) => ((web(a).environment as Record<string, string>)[v] = "x"),
    check: (s, a, v) => hasWords(s, `${nameOf(a, "web")}.service`, ["--env", `${v}=x`]),
  },
  {
    name: "command word",
    path: "containers.web.command[1]",
    base: "--flag",
    policy: "free",
    place: (a, v) => (web(a).command = ["run", v]),
    check: (s, a, v) => tail(s, `${nameOf(a, "web")}.service`, [IMAGE, "run", v]),
  },
  {
    name: "entrypoint word",
    path: "containers.web.entrypoint[1]",
    base: "-c",
    policy: "free",
    place: (a, v) => (web(a).entrypoint = ["/bin/sh", v]),
    check: (s, a, v) => jsonAfter(s, `${nameOf(a, "web")}.service`, "--entrypoint", ["/bin/sh", v]),
  },
  {
    name: "healthcheck cmd (string)",
    path: "containers.web.healthcheck.cmd",
    base: "test -f /x",
    policy: "free",
    place: (a, v) => (web(a).healthcheck = { cmd: v }),
    check: (s, a, v) => healthStored(s, `${nameOf(a, "web")}.service`, ["CMD-SHELL", v]),
  },
  {
    name: "healthcheck cmd (list)",
    path: "containers.web.healthcheck.cmd",
    base: "status",
    policy: "free",
    place: (a, v) => (web(a).healthcheck = { cmd: ["check", v] }),
    check: (s, a, v) => healthStored(s, `${nameOf(a, "web")}.service`, ["CMD", "check", v]),
  },
  {
    name: "build arg",
    path: "containers.built.build.args.A",
    base: "arg",
    policy: "free",
    place: (a, v) => ((a.containers.built!.build as { args: Record<string, string> }).args.A = v),
    check: (s, a, v) => hasWords(s, `${nameOf(a, "built")}-build.service`, ["--build-arg", `A=${v}`]),
  },
  {
    name: "volume source",
    path: "containers.web.volumes[0].source",
    base: "data",
    policy: "restricted",
    place: (a, v) => (web(a).volumes = [{ source: v, target: "/data" }]),
    check: (s, a, v) => hasWords(s, `${nameOf(a, "web")}.service`, ["-v", `${v.startsWith("/") ? v : `/var/lib/archy/apps/${a.id}/${v}`}:/data:rw`]),
  },
  {
    name: "container path",
    path: "containers.web.volumes[0].target",
    base: "/data",
    policy: "restricted",
    place: (a, v) => (web(a).volumes = [{ source: "data", target: v }]),
    check: (s, a, v) => hasWords(s, `${nameOf(a, "web")}.service`, ["-v", `/var/lib/archy/apps/${a.id}/data:${v}:rw`]),
  },
  {
    name: "user",
    path: "containers.web.user",
    base: "1000",
    policy: "restricted",
    place: (a, v) => (web(a).user = v),
    check: (s, a, v) => hasWords(s, `${nameOf(a, "web")}.service`, ["--user", v]),
  },
  {
    name: "alias",
    path: "containers.web.aliases[0]",
    base: "db",
    policy: "restricted",
    place: (a, v) => (web(a).aliases = [v]),
    check: (s, a, v) => hasWords(s, `${nameOf(a, "web")}.service`, ["--network-alias", v]),
  },
  {
    name: "image",
    path: "containers.web.image",
    base: IMAGE,
    policy: "restricted",
    place: (a, v) => (web(a).image = v),
    check: (s, a, v) => tail(s, `${nameOf(a, "web")}.service`, [v, "run"]),
  },
  {
    name: "tmpfs",
    path: "containers.web.tmpfs[0]",
    base: "/tmp",
    policy: "restricted",
    place: (a, v) => (web(a).tmpfs = [v]),
    check: (s, a, v) => hasWords(s, `${nameOf(a, "web")}.service`, ["--tmpfs", v]),
  },
  {
    name: "memory",
    path: "containers.web.memory",
    base: "512m",
    policy: "restricted",
    place: (a, v) => (web(a).memory = v),
    check: (s, a, v) => hasWords(s, `${nameOf(a, "web")}.service`, [`--memory=${v}`]),
  },
  {
    name: "app id",
    path: "id",
    base: "app",
    policy: "restricted",
    place: (a, v) => (a.id = v),
    check: (s, a) => hasWords(s, `${nameOf(a, "web")}.service`, ["--name", nameOf(a, "web")]),
  },
  {
    name: "container key",
    path: "containers",
    base: "web",
    policy: "restricted",
    place: (a, v) => {
      const w = web(a);
      delete a.containers.web;
      a.containers[v] = w;
    },
    check: (s, a, v) => hasWords(s, `${nameOf(a, v)}.service`, ["--name", nameOf(a, v)]),
  },
  {
    name: "volume owner",
    path: "containers.web.volumes[0].owner",
    base: "1000:1000",
    policy: "restricted",
    place: (a, v) => (web(a).volumes = [{ source: "data", target: "/data", owner: v }]),
    check: () => [],
  },
  {
    name: "build context",
    path: "containers.built.build.context",
    base: "ctx",
    policy: "restricted",
    place: (a, v) => ((a.containers.built!.build as { context: string }).context = v),
    check: () => [],
  },
];

const PLACEMENTS = ["alone", "prefix", "suffix"] as const;
const combine = (base: string, v: string, p: (typeof PLACEMENTS)[number]) => (p === "alone" ? v : p === "prefix" ? v + base : base + v);
const NOT_DISPLAY = /[\x00-\x08\x0B-\x1F\x7F-\x9F\u200E\u200F\u202A-\u202E\u2066-\u2069]/;

/** Whether a free-text field must take this value (the format's documented exceptions aside). */
function mustAccept(f: Field, value: string, expect: CorpusValue["expect"]): boolean {
  if (expect === "reject") return false;
  if (f.policy === "free") return !(f.name === "command word" && value === ";");
  if (f.policy === "display") return value.trim() !== "" && value.length <= f.limit! && !NOT_DISPLAY.test(value);
  return false;
}

interface Outcome {
  field: string;
  value: string;
  placement: string;
  outcome: "literal" | "rejected";
}

const root = scratch("archy-hostile-");
const outcomes: Outcome[] = [];
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the hostile corpus in every field: literal in podman's argv, or a diagnostic naming the field", () => {
  const pending: Pending[] = [];
  const work = writeCatalog(join(root, "work"), {}, ["ctx"]);
  let n = 0;

  it(`compiles ${FIELDS.length} fields × ${VALUES.length} values × ${PLACEMENTS.length} placements`, () => {
    const wrong: string[] = [];
    for (const f of FIELDS) {
      for (const c of VALUES) {
        for (const p of PLACEMENTS) {
          const v = combine(f.base, c.value, p);
          const id = `h${++n}x`;
          const app = baseApp(id);
          f.place(app, v);
          const text = JSON.stringify(app);
          const file = join(work, `${id}.yaml`);
          writeFileSync(file, text);
          const r = compileDir(work);
          rmSync(file);
          const label = `${f.name} ← ${c.name} (${p})`;
          const bad = diagnosticProblems(r);
          if (bad.length) wrong.push(`${label}: ${bad.join("; ")}`);
          if (r.diagnostics.length > 0) {
            outcomes.push({ field: f.name, value: c.name, placement: p, outcome: "rejected" });
            if (mustAccept(f, v, c.expect)) wrong.push(`${label}: refused a value the field must carry: ${r.diagnostics.map(formatDiagnostic).join(" | ")}`);
            const named = r.diagnostics.some((d) => d.path !== undefined && (d.path === f.path || d.path.startsWith(`${f.path}.`) || d.path.startsWith(`${f.path}[`)));
            if (!named) wrong.push(`${label}: no diagnostic names ${f.path}: ${r.diagnostics.map(formatDiagnostic).join(" | ").slice(0, 400)}`);
            for (const d of r.diagnostics) if (!/^\S.*\S$/.test(d.message)) wrong.push(`${label}: unclear message ${JSON.stringify(d.message)}`);
          } else {
            outcomes.push({ field: f.name, value: c.name, placement: p, outcome: "literal" });
            if (c.expect === "reject") wrong.push(`${label}: accepted a value that cannot be carried literally`);
            const files = r.files.filter((x) => x.path.startsWith("etc/containers/systemd/archy/")).map((x) => ({ name: x.path.split("/").pop()!, content: String(x.content) }));
            // Description reaches nothing: every generated file equals the base case's.
            if (f.name === "description") {
              writeFileSync(file, JSON.stringify(baseApp(id)));
              const base = compileDir(work);
              rmSync(file);
              const show = (x: typeof r) => JSON.stringify(x.files.map((y) => [y.path, String(y.content)]));
              if (show(base) !== show(r)) wrong.push(`${label}: the description changed a generated file`);
            }
            pending.push({ label, files, expect: [], source: text, check: (s) => f.check(s, app, v) });
          }
        }
      }
    }
    expect(wrong, wrong.slice(0, 20).join("\n")).toEqual([]);
  });

  it("every accepted combination reaches the real quadlet's output literally (batched)", () => {
    const res = checkWithQuadlet(pending, 150);
    const shown = res.failures.slice(0, 15).map((f) => `${f.label}: ${f.problems.slice(0, 3).join("; ")}`);
    expect(res.failures.length, shown.join("\n")).toBe(0);
    expect(res.checked).toBe(pending.length);
  });

  it("writes the outcome counts", () => {
    const byField: Record<string, { literal: number; rejected: number }> = {};
    for (const o of outcomes) (byField[o.field] ??= { literal: 0, rejected: 0 })[o.outcome]++;
    const literal = outcomes.filter((o) => o.outcome === "literal").length;
    const summary = { values: VALUES.length, fields: FIELDS.length, placements: PLACEMENTS.length, cases: outcomes.length, literal, rejected: outcomes.length - literal, byField };
    writeFileSync(STATS, JSON.stringify(summary, null, 2) + "\n");
    console.log(`hostile corpus: ${summary.cases} cases (${summary.values} values × ${summary.fields} fields × ${summary.placements} placements): ${literal} literal in podman's argv, ${summary.rejected} rejected with a diagnostic naming the field`);
    expect(outcomes.length).toBe(FIELDS.length * VALUES.length * PLACEMENTS.length);
  });
});

// --- derived configs -----------------------------------------------------------

/** A node: a bitcoin provider and one consumer of every config kind. */
function stack(free: (field: string) => string, over: { consumerId?: string; key?: string; whitelist?: string; envName?: string; mount?: string } = {}): Record<string, Raw> {
  const consumerId = over.consumerId ?? "wallet";
  const key = over.key ?? "api";
  const txt = (f: string) => free(f);
  const common = (id: string, kind = "service") => ({ id, name: txt(`${id}.name`), version: "1.0", kind, description: txt(`${id}.description`) });
  const c = (id: string, extra: Record<string, unknown> = {}) => ({
    image: IMAGE,
    command: ["run", txt(`${id}.command`)],
    entrypoint: ["/bin/sh", txt(`${id}.entrypoint`)],
    environment: { FREE: txt(`${id}.environment`) },
    healthcheck: { cmd: txt(`${id}.healthcheck`) },
    ...extra,
  });
  return {
    btc: { ...common("btc"), provides: { role: "bitcoin", default: true }, containers: { btc: c("btc", { configs: [{ kind: "bitcoin.conf", mount: "/etc/bitcoin/bitcoin.conf" }] }) } },
    lightning: { ...common("lightning"), bitcoin_rpc: {}, dependencies: { bitcoin: {} }, containers: { lightning: c("lightning", { configs: [{ kind: "lnd.conf", mount: "/root/.lnd/lnd.conf" }] }) } },
    indexer: { ...common("indexer"), bitcoin_rpc: { whitelist: ["getblock"] }, dependencies: { bitcoin: {} }, containers: { indexer: c("indexer", { configs: [{ kind: "electrumx.env" }] }) } },
    dashboard: { ...common("dashboard", "ui"), bitcoin_rpc: {}, dependencies: { bitcoin: {} }, containers: { dashboard: c("dashboard", { configs: [{ kind: "nginx.conf", mount: over.mount ?? "/etc/nginx/conf.d/default.conf" }] }) } },
    [consumerId]: {
      ...common(consumerId),
      bitcoin_rpc: { whitelist: [over.whitelist ?? "getblockchaininfo"] },
      dependencies: { bitcoin: {} },
      containers: { [key]: c(consumerId, { configs: [{ kind: "bitcoin-rpc.env", env: { [over.envName ?? "RPC_URL"]: "url", RPC_PASS: "password", RPC_HOST: "host" } }] }), other: { image: IMAGE } },
    },
  };
}

function compileStack(dir: string, apps: Record<string, Raw>) {
  const files: Record<string, string> = {};
  for (const [id, a] of Object.entries(apps)) files[`${/^[a-z0-9-]{1,48}$/.test(id) ? id : "odd"}.yaml`] = stringify(a);
  const manifests = writeCatalog(dir, files);
  const select = join(dir, "selection.yaml");
  writeFileSync(select, stringify({ apps: Object.keys(apps), settings: { bitcoin_network: "regtest" } }));
  return compile({ manifests, select, secrets: new ReviewSecrets() });
}

const configsOf = (r: ReturnType<typeof compileStack>) => new Map(r.files.filter((f) => f.path.startsWith("etc/archy/") && !f.path.startsWith("etc/archy/build/")).map((f) => [f.path, String(f.content)]));

// Every line of a derived file must be a template line with its slots filled from a closed alphabet.
const HEADER = "Generated by archy-quadlet from manifests/[a-z0-9-]+\\.yaml — do not edit";
const SLOT = "[A-Za-z0-9+/=._:@-]+";
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
// The handlebars sources: comments, block tags and the lines a block repeats
// ({{this}}, {{name}}={{value}}) are not fixed lines; the block contents get
// their own rules below.
const template = (kind: string) => readFileSync(join(REPO, "templates", `${kind}.hbs`), "utf8").replace(/\{\{!--[\s\S]*?--\}\}\n?/g, "");
const bitcoinConf = template("bitcoin.conf");
const lndConf = template("lnd.conf");
const electrumxEnv = template("electrumx.env");
const nginxConf = template("nginx.conf");
const clnConf = template("cln.conf");
const BLOCK_LINE = /^(\{\{[#/][^}]*\}\}|\{\{this\}\}|\{\{name\}\}=\{\{value\}\})$/;
function lineGrammar(template: string): RegExp[] {
  return template
    .split("\n")
    .filter((l) => !BLOCK_LINE.test(l))
    .map((l) => l.replace(/\{\{header\}\}/g, "\u0001").replace(/\{\{[a-z_.]+\}\}/g, "\u0002"))
    .map((l) => new RegExp(`^${esc(l).replace(/\u0001/g, HEADER).replace(/\u0002/g, SLOT)}$`));
}
const GRAMMAR: Record<string, RegExp[]> = {
  "bitcoin.conf": [
    ...lineGrammar(bitcoinConf),
    /^rpcauth=[a-z0-9-]+:[0-9a-f]{32}\$[0-9a-f]{64}$/,
    /^rpcwhitelist=[a-z0-9-]+:[a-z]+(,[a-z]+)*$/,
    /^rpcwhitelistdefault=0$/,
    /^deprecatedrpc=[a-z_]+$/,
    /^bind=0\.0\.0\.0:8333$/,
    /^port=8333$/,
    /^whitebind=download,noban,mempool,relay@0\.0\.0\.0:8335$/,
  ],
  "lnd.conf": [...lineGrammar(lndConf), /^\[Application Options\]$/, new RegExp(`^wallet-unlock-password-file=${SLOT}$`), /^wallet-unlock-allow-create=true$/],
  "cln.conf": lineGrammar(clnConf),
  "electrumx.env": lineGrammar(electrumxEnv),
  "nginx.conf": lineGrammar(nginxConf),
  env: [new RegExp(`^# ${HEADER}$`), new RegExp(`^[A-Za-z_][A-Za-z0-9_]*=${SLOT}$`), /^$/],
};
function grammarProblems(configs: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [path, text] of configs) {
    const base = path.split("/").pop()!;
    const g = GRAMMAR[base.startsWith("bitcoin-rpc-") || base.startsWith("app-") ? "env" : base]!;
    if (!g) {
      out.push(`${path}: no grammar for this kind`);
      continue;
    }
    text.split("\n").forEach((l, i) => {
      if (!g.some((re) => re.test(l))) out.push(`${path}:${i + 1}: ${JSON.stringify(l)} is not a template line`);
    });
  }
  return out;
}

describe("derived configs take values from validated sources only", () => {
  const keep = VALUES.filter((v) => v.expect === "keep").map((v) => v.value);
  // Every character the corpus lets through free-text fields, in one value (display fields get the display-safe ones).
  const everything = keep.filter((v) => v.length < 100).join(" ");
  const displaySafe = Array.from(keep.filter((v) => v.length < 100 && !NOT_DISPLAY.test(v)).join(" ")).slice(0, 70).join("");

  it("the benign node's configs follow the templates line by line", () => {
    const r = compileStack(join(root, "benign"), stack(() => "plain"));
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
    const configs = configsOf(r);
    expect([...configs.keys()].sort()).toEqual([
      "etc/archy/btc/bitcoin.conf",
      "etc/archy/dashboard/nginx.conf",
      "etc/archy/indexer/electrumx.env",
      "etc/archy/lightning/lnd.conf",
      "etc/archy/wallet/bitcoin-rpc-api.env",
    ]);
    expect(grammarProblems(configs)).toEqual([]);
  });

  it("hostile text in every free-text field (names, descriptions, env, command, entrypoint, healthcheck) changes no config byte", () => {
    const benign = compileStack(join(root, "d-benign"), stack(() => "plain"));
    const hostile = compileStack(
      join(root, "d-hostile"),
      stack((f) => (/\.(name|description)$/.test(f) ? `x ${displaySafe}`.trim() : `${everything} ${f}`)),
    );
    expect(hostile.diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(configsOf(hostile)).toEqual(configsOf(benign));
    // …while the same values did reach the units.
    const unit = hostile.files.find((f) => f.path.endsWith("/wallet-api.container"))!;
    expect(String(unit.content)).toContain("Environment=");
  });

  // The fields that do reach configs: each is either refused (naming the field) or leaves every line a template line.
  const REACHING: { name: string; path: string; base: string; over: (v: string) => Parameters<typeof stack>[1] }[] = [
    { name: "consumer app id", path: "id", base: "wallet", over: (v) => ({ consumerId: v }) },
    { name: "container key", path: "containers", base: "api", over: (v) => ({ key: v }) },
    { name: "rpc whitelist entry", path: "bitcoin_rpc.whitelist[0]", base: "getblock", over: (v) => ({ whitelist: v }) },
    { name: "bitcoin-rpc.env variable name", path: "containers.api.configs[0].env", base: "RPC_URL", over: (v) => ({ envName: v }) },
    { name: "config mount", path: "containers.dashboard.configs[0].mount", base: "/etc/nginx/conf.d/default.conf", over: (v) => ({ mount: v }) },
  ];
  it.each(REACHING.map((f) => [f.name, f] as const))("%s: every corpus value is refused (naming the field) or leaves only template lines", (_, f) => {
    const wrong: string[] = [];
    let accepted = 0;
    let i = 0;
    for (const c of VALUES) {
      for (const p of PLACEMENTS) {
        const v = combine(f.base, c.value, p);
        const r = compileStack(join(root, `reach-${f.name.replace(/\W+/g, "-")}-${i++}`), stack(() => "plain", f.over(v)));
        if (r.diagnostics.length > 0) {
          const named = r.diagnostics.some((d) => d.path !== undefined && d.path.startsWith(f.path));
          if (!named) wrong.push(`${c.name} (${p}): no diagnostic names ${f.path}: ${r.diagnostics.map(formatDiagnostic).join(" | ").slice(0, 300)}`);
        } else {
          accepted++;
          wrong.push(...grammarProblems(configsOf(r)).map((x) => `${c.name} (${p}): ${x}`));
        }
      }
    }
    expect(wrong, wrong.slice(0, 10).join("\n")).toEqual([]);
    // Only combinations inside the field's alphabet pass (e.g. the 64 KiB run of "a" after a valid name).
    expect(accepted).toBeLessThanOrEqual(PLACEMENTS.length);
  });
});
