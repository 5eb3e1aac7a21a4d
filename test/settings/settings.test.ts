// Settings declared by manifests, chosen in the selection's app_settings, rules
// across apps (requires_settings), local overrides, the settings report and the
// selection's JSON Schema (docs/settings.md).
import { mkdirSync, readFileSync, writeFileSync, cpSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "yaml";
import { compile } from "../../src/plan/inputs.js";
import { ReviewSecrets } from "../../src/configs/secrets.js";
import { formatDiagnostic, sortDiagnostics, type Diagnostic } from "../../src/manifest/diagnostics.js";
import { readManifestDir } from "../../src/manifest/read.js";
import { selectionJsonSchema } from "../../src/settings/json-schema.js";
import { settingRows } from "../../src/settings/report.js";
import { setAppSetting, unsetAppSetting } from "../../src/settings/edit.js";
import { cli, golden, tempDir } from "../helpers/cli.js";
import { REPO } from "../helpers/quadlet.js";

const MANIFESTS = join(REPO, "manifests");
const FIXTURE = "test/settings/fixtures/node.yaml";

function run(selection: string, manifests = MANIFESTS) {
  const dir = tempDir("archy-settings-");
  const file = join(dir, "node.yaml");
  writeFileSync(file, selection);
  const r = compile({ manifests, select: file, secrets: new ReviewSecrets() });
  // Diagnostics name the temp file: show it as node.yaml.
  const text = sortDiagnostics(r.diagnostics).map((d: Diagnostic) => formatDiagnostic(d).split(file).join("node.yaml").replace(/\/\S*?\/manifests\//g, "manifests/"));
  return { ...r, text, file };
}
const content = (r: ReturnType<typeof run>, path: string) => String(r.files.find((f) => f.path === path)?.content ?? "");
const BTC = "etc/archy/bitcoin-knots/bitcoin.conf";

describe("values in the selection", () => {
  it("reach bitcoin.conf as option lines only when set; at default the file is today's", () => {
    const base = run("apps: [bitcoin-knots]\n");
    expect(base.text).toEqual([]);
    expect(content(base, BTC)).not.toMatch(/^(dbcache|prune|maxconnections)=/m);
    const r = run("apps: [bitcoin-knots]\napp_settings:\n  bitcoin: { dbcache: 2048, prune: 550, txindex: false, listen: false, rpc_port: 8340 }\n");
    expect(r.text).toEqual([]);
    const conf = content(r, BTC);
    expect(conf).toMatch(/^dbcache=2048$/m);
    expect(conf).toMatch(/^prune=550$/m);
    expect(conf).toMatch(/^listen=0$/m);
    expect(conf).toMatch(/^txindex=0$/m);
    expect(conf).toMatch(/^rpcport=8340$/m);
  });

  it.each([
    ["an integer below its range", "bitcoin: { dbcache: 2 }", "node.yaml:3:23: error: app_settings.bitcoin.dbcache: 2 is out of range: 4..16384 MiB"],
    ["prune between 1 and 549", "bitcoin: { prune: 100 }", "node.yaml:3:21: error: app_settings.bitcoin.prune: 100 is out of range: 550..100000000 MiB, or 0"],
    ["a wrong type", 'bitcoin: { txindex: "yes" }', 'node.yaml:3:23: error: app_settings.bitcoin.txindex: expected boolean, got string'],
    ["a string past its pattern", 'lnd: { color: "red" }', 'node.yaml:3:17: error: app_settings.lnd.color: "red" does not match #[0-9a-fA-F]{6}'],
    ["a string past max_length", `lnd: { alias: "${"x".repeat(33)}" }`, "node.yaml:3:17: error: app_settings.lnd.alias: must be at most 32 characters"],
    ["an unknown key", "bitcoin-knots: { dbcash: 1 }", 'node.yaml:3:20: error: app_settings.bitcoin-knots.dbcash: "bitcoin-knots" has no setting "dbcash"; its settings: blockfilterindex, blocksonly, coinstatsindex, datacarrier, datacarriersize, dbcache, listen, maxconnections, maxmempool, maxuploadtarget, mempoolexpiry, peerblockfilters, permitbaremultisig, prune, rejectparasites, rejecttokens, rpc_port, txindex'],
    ["an unknown app", "ghost: { x: 1 }", 'node.yaml:3:3: error: app_settings.ghost: no app or role "ghost" exists'],
    ["an app not selected", "electrs: { x: 1 }", 'node.yaml:3:3: error: app_settings.electrs: "electrs" is not in this selection (add it to `apps`, or remove its settings)'],
  ])("refuse %s at the selection's line and column", (_, line, want) => {
    const r = run(`apps: [bitcoin-knots, lnd]\napp_settings:\n  ${line}\n`);
    expect(r.text).toContain(want);
    expect(r.files).toEqual([]);
  });

  it("reports every error at once", () => {
    const r = run("apps: [bitcoin-knots, lnd]\napp_settings:\n  bitcoin: { dbcache: 2, maxconnections: -1 }\n  lnd: { alias: 7 }\n");
    expect(r.text).toHaveLength(3);
  });
});

describe("role keys and app id keys", () => {
  it("a role key follows the selected provider: knots → core keeps what both declare", () => {
    for (const provider of ["bitcoin-knots", "bitcoin-core"]) {
      const r = run(`apps: [${provider}]\napp_settings:\n  bitcoin: { dbcache: 1024 }\n`);
      expect(r.text).toEqual([]);
      expect(content(r, `etc/archy/${provider}/bitcoin.conf`)).toMatch(/^dbcache=1024$/m);
    }
  });

  it("a setting only Knots declares is refused under Bitcoin Core, naming the provider", () => {
    const r = run("apps: [bitcoin-core]\napp_settings:\n  bitcoin: { rejectparasites: true }\n");
    expect(r.text[0]).toMatch(/^node\.yaml:3:14: error: app_settings\.bitcoin\.rejectparasites: "bitcoin-core" \(the selected "bitcoin" provider\) has no setting "rejectparasites"/);
  });

  it("Knots' policy options by app id", () => {
    const r = run("apps: [bitcoin-knots]\napp_settings:\n  bitcoin-knots: { datacarrier: false, datacarriersize: 0, permitbaremultisig: false, rejectparasites: true, rejecttokens: true }\n");
    expect(r.text).toEqual([]);
    const conf = content(r, BTC);
    for (const l of ["datacarrier=0", "datacarriersize=0", "permitbaremultisig=0", "rejectparasites=1", "rejecttokens=1"]) expect(conf).toContain(`\n${l}\n`);
  });

  it("the same setting under the role and the app id is an error", () => {
    const r = run("apps: [bitcoin-knots]\napp_settings:\n  bitcoin: { dbcache: 1024 }\n  bitcoin-knots: { dbcache: 2048 }\n");
    expect(r.text.join("\n")).toMatch(/"dbcache" of "bitcoin-knots" is already set under app_settings\.bitcoin/);
  });
});

describe("rules across apps (requires_settings)", () => {
  it("a conflicting value names both places", () => {
    const r = run("apps: [bitcoin-knots, electrumx]\napp_settings:\n  bitcoin: { prune: 550, txindex: false }\n");
    const text = r.text.join("\n");
    expect(text).toContain("node.yaml:3:21: error: app_settings.bitcoin.prune: 550 conflicts with electrumx (manifests/electrumx.yaml:");
    expect(text).toMatch(/electrumx \(manifests\/electrumx\.yaml:\d+:\d+ requires bitcoin prune: 0\)/);
    expect(text).toMatch(/app_settings\.bitcoin\.txindex: false conflicts with electrumx \(manifests\/electrumx\.yaml:\d+:\d+ requires bitcoin txindex: true\)/);
    expect(r.files).toEqual([]);
  });

  it.each(["electrumx", "fulcrum", "electrs", "mempool", "btc-rpc-explorer"])("%s refuses a pruned bitcoind", (app) => {
    const r = run(`apps: [bitcoin-knots, ${app}${app === "mempool" ? ", electrs" : ""}]\napp_settings:\n  bitcoin: { prune: 550, txindex: false }\n`);
    expect(r.text.join("\n")).toMatch(new RegExp(`prune: 550 conflicts with ${app} \\(manifests/${app}\\.yaml:\\d+:\\d+ requires bitcoin prune: 0\\)`));
  });

  it("prune with txindex is refused (bitcoind would not start)", () => {
    const r = run("apps: [bitcoin-knots]\napp_settings:\n  bitcoin: { prune: 550 }\n");
    expect(r.text.join("\n")).toContain("node.yaml:3:21: error: app_settings.bitcoin.prune: prune 550 with txindex true: bitcoind refuses to start with both; set txindex: false to prune");
  });

  it("a value a dependent requires and the owner left at default is set for them, and settings says why", () => {
    const dir = tempDir("archy-settings-cat-");
    const m = join(dir, "manifests");
    mkdirSync(m);
    cpSync(join(MANIFESTS, "bitcoin-core.yaml"), join(m, "bitcoin-core.yaml"));
    // A provider whose txindex is off by default; electrumx needs it on.
    writeFileSync(join(m, "bitcoin-core.yaml"), readFileSync(join(m, "bitcoin-core.yaml"), "utf8").replace(/(  txindex:\n    type: boolean\n    default:) true/, "$1 false"));
    cpSync(join(MANIFESTS, "electrumx.yaml"), join(m, "electrumx.yaml"));
    const r = run("apps: [bitcoin-core, electrumx]\n", m);
    expect(r.text).toEqual([]);
    expect(content(r, "etc/archy/bitcoin-core/bitcoin.conf")).toMatch(/^txindex=1$/m);
    const row = settingRows(r.graph!).find((x) => x.app === "bitcoin-core" && x.key === "txindex")!;
    expect(row).toMatchObject({ value: true, default: false, origin: "required" });
    expect(row.from).toMatch(/^required by electrumx \(.*manifests\/electrumx\.yaml:\d+:\d+\)$/);
  });

  it("two dependents requiring different values is an error at the second", () => {
    const dir = tempDir("archy-settings-cat2-");
    const m = join(dir, "manifests");
    mkdirSync(m);
    for (const f of ["bitcoin-knots", "mempool", "electrs"]) cpSync(join(MANIFESTS, `${f}.yaml`), join(m, `${f}.yaml`));
    writeFileSync(join(m, "electrs.yaml"), readFileSync(join(m, "electrs.yaml"), "utf8").replace("requires_settings: { prune: 0 }", "requires_settings: { prune: 0, dbcache: 1000 }"));
    writeFileSync(join(m, "mempool.yaml"), readFileSync(join(m, "mempool.yaml"), "utf8").replace("requires_settings: { txindex: true, prune: 0 }", "requires_settings: { txindex: true, prune: 0, dbcache: 2000 }"));
    const r = run("apps: [bitcoin-knots, electrs, mempool]\n", m);
    expect(r.text.join("\n")).toMatch(/mempool\.yaml:\d+:\d+: error: dependencies\.bitcoin\.requires_settings\.dbcache: 2000 conflicts with electrs \(.*electrs\.yaml:\d+:\d+ requires dbcache: 1000\)/);
  });
});

describe("env and arg settings", () => {
  it("an env setting replaces the manifest's value only when set", () => {
    const base = run("apps: [bitcoin-knots, electrumx]\n");
    expect(content(base, "etc/containers/systemd/archy/electrumx.container")).toContain("Environment=CACHE_MB=1000\n");
    const r = run("apps: [bitcoin-knots, electrumx]\napp_settings:\n  electrum: { cache_mb: 2000 }\n");
    expect(r.text).toEqual([]);
    expect(content(r, "etc/containers/systemd/archy/electrumx.container")).toContain("Environment=CACHE_MB=2000\n");
  });

  it("an arg setting is appended to the named container's command, through the unit model's quoting", () => {
    const dir = tempDir("archy-settings-arg-");
    const m = join(dir, "manifests");
    mkdirSync(m);
    writeFileSync(
      join(m, "echo.yaml"),
      `id: echo
name: Echo
version: "1.0"
kind: service
description: Test app.
settings:
  greeting: { type: string, max_length: 40, default: hi, description: What it says, to: { arg: "--greeting={value}" } }
  loud: { type: boolean, default: false, description: Shout, to: { env: LOUD, containers: [echo] } }
containers:
  echo:
    image: docker.io/library/busybox:1.36
    command: ["echo"]
`,
    );
    const base = run("apps: [echo]\n", m);
    expect(content(base, "etc/containers/systemd/archy/echo.container")).toMatch(/^Exec=echo$/m);
    const r = run('apps: [echo]\napp_settings:\n  echo: { greeting: "a b %h $x", loud: true }\n', m);
    expect(r.text).toEqual([]);
    const unit = content(r, "etc/containers/systemd/archy/echo.container");
    expect(unit).toMatch(/^Exec=echo "--greeting=a b %%h \$\$x"$/m);
    expect(unit).toContain("Environment=LOUD=true\n");
  });
});

describe("local overrides", () => {
  it("apply a validated subset of container fields, by app and container", () => {
    const r = run("apps: [bitcoin-knots, electrumx]\noverrides:\n  bitcoin-knots:\n    bitcoin-knots: { memory: 8g, pids_limit: 4096, stop_timeout: 900, start_timeout: 9000, environment: { EXTRA: x } }\n");
    expect(r.text).toEqual([]);
    const unit = content(r, "etc/containers/systemd/archy/bitcoin-knots.container");
    for (const l of ["PodmanArgs=--memory=8g", "PidsLimit=4096", "StopTimeout=900", "TimeoutStartSec=9000s", "Environment=EXTRA=x", "TimeoutStopSec=930s"]) expect(unit).toContain(`${l}\n`);
    expect(r.graph!.overrides!.get("bitcoin-knots")!.get("memory")).toMatchObject({ line: 4, col: 30 });
  });

  it.each([
    ["an unknown field", "bitcoin-knots: { image: x }", /unknown key "image"/],
    ["a bad memory value", "bitcoin-knots: { memory: lots }", /memory must look like 512m or 2g/],
    ["an unknown container", "nope: { memory: 1g }", /overrides\.bitcoin-knots\.nope: no container "nope" in app "bitcoin-knots"/],
  ])("refuse %s with the manifests' diagnostics", (_, line, want) => {
    const r = run(`apps: [bitcoin-knots]\noverrides:\n  bitcoin-knots:\n    ${line}\n`);
    expect(r.text.join("\n")).toMatch(want);
    expect(r.text[0]).toMatch(/^node\.yaml:4:\d+: error: /);
  });
});

describe("restart precision", () => {
  it("a dbcache change touches bitcoind's config and unit (its config hash) and nothing else", () => {
    const a = run("apps: [bitcoin-knots, lnd, electrumx, mempool, bitcoin-ui]\n");
    const b = run("apps: [bitcoin-knots, lnd, electrumx, mempool, bitcoin-ui]\napp_settings:\n  bitcoin: { dbcache: 4096 }\n");
    const before = new Map(a.files.map((f) => [f.path, String(f.content)]));
    const changed = b.files.filter((f) => before.get(f.path) !== String(f.content)).map((f) => f.path);
    expect(changed).toEqual([BTC, "etc/containers/systemd/archy/bitcoin-knots.container"]);
  });

  it("an rpc_port change reaches every consumer's derived config", () => {
    const r = run("apps: [bitcoin-knots, lnd, electrumx, mempool, bitcoin-ui]\napp_settings:\n  bitcoin: { rpc_port: 8340 }\n");
    expect(r.text).toEqual([]);
    expect(content(r, "etc/archy/lnd/lnd.conf")).toContain("bitcoind.rpchost=bitcoin-knots:8340\n");
    expect(content(r, "etc/archy/electrumx/electrumx.env")).toMatch(/^DAEMON_URL=http:\/\/electrumx:[0-9a-z]+@bitcoin-knots:8340\/$/m);
    expect(content(r, "etc/archy/bitcoin-ui/nginx.conf")).toContain("proxy_pass http://$bitcoin_upstream:8340;");
    expect(r.files.filter((f) => f.path.includes("bitcoin-rpc-")).map((f) => String(f.content)).join("")).not.toMatch(/8332/);
  });

  it("an rpc_port change is refused with an app that names port 8332 literally", () => {
    const r = run("apps: [bitcoin-knots, fulcrum]\napp_settings:\n  bitcoin: { rpc_port: 8340 }\n");
    expect(r.text.join("\n")).toMatch(/fulcrum\.yaml:\d+:\d+: error: containers\.fulcrum\.environment\.BITCOIND: reaches bitcoind's RPC at the fixed port 8332/);
  });
});

describe("settings command and the selection schema", () => {
  it("settings --json (golden)", async () => {
    const r = await cli(["settings", "--manifests", "manifests", "--select", FIXTURE, "--json"], { cwd: REPO });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    golden(join(REPO, "test/settings/golden/settings.json"), r.stdout);
  });

  it("settings (text) names each value's origin", async () => {
    const r = await cli(["settings", "--manifests", "manifests", "--select", FIXTURE], { cwd: REPO });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}dbcache +2048 +test\/settings\/fixtures\/node\.yaml:6:23 \(default 450\)$/m);
    expect(r.stdout).toMatch(/^ {2}prune +0 +default$/m);
  });

  it("schema/selection.schema.json is current (archy-quadlet schema --selection > schema/selection.schema.json)", async () => {
    const r = await cli(["schema", "--selection", "--manifests", "manifests"], { cwd: REPO });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(REPO, "schema/selection.schema.json"), "utf8"));
    expect(JSON.parse(r.stdout)).toEqual(selectionJsonSchema(readManifestDir(MANIFESTS, [])));
  });

  it("validates examples/node.yaml and the fixture with a real JSON Schema validator, and refuses bad values", () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(readFileSync(join(REPO, "schema/selection.schema.json"), "utf8")) as object);
    for (const f of ["examples/node.yaml", FIXTURE]) {
      expect(validate(parse(readFileSync(join(REPO, f), "utf8"))), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    const bad = (s: unknown) => !validate(s);
    expect(bad({ apps: ["bitcoin-knots"], app_settings: { bitcoin: { prune: 100 } } })).toBe(true);
    expect(bad({ apps: ["bitcoin-knots"], app_settings: { bitcoin: { prune: 0 } } })).toBe(false);
    expect(bad({ apps: ["bitcoin-knots"], app_settings: { lnd: { color: "red" } } })).toBe(true);
    expect(bad({ apps: ["bitcoin-knots"], app_settings: { "bitcoin-knots": { dbcash: 1 } } })).toBe(true);
    expect(bad({ apps: ["bitcoin-knots"], overrides: { "bitcoin-knots": { "bitcoin-knots": { image: "x" } } } })).toBe(true);
    expect(bad({ apps: ["no-such-app"] })).toBe(true);
  });
});

describe("setAppSetting (the API adopt uses to carry legacy values)", () => {
  const apps = readManifestDir(MANIFESTS, []);
  const text = "# my node\napps: [bitcoin-knots] # the bitcoind\n";

  it("adds a value, keeping comments, and the result compiles", () => {
    const r = setAppSetting(text, "bitcoin", "dbcache", 3000, apps);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.text).toContain("# my node\n");
    expect(r.text).toContain("# the bitcoind");
    const again = setAppSetting(r.text, "bitcoin", "prune", 0, apps);
    expect(again.ok && parse(again.text)).toEqual({ apps: ["bitcoin-knots"], app_settings: { bitcoin: { dbcache: 3000, prune: 0 } } });
    const c = run(r.text);
    expect(c.text).toEqual([]);
    expect(content(c, BTC)).toMatch(/^dbcache=3000$/m);
  });

  it("refuses what the setting does not accept, and unknown settings", () => {
    expect(setAppSetting(text, "bitcoin", "prune", 100, apps)).toEqual({ ok: false, message: "app_settings.bitcoin.prune: 100 is out of range: 550..100000000 MiB, or 0" });
    expect(setAppSetting(text, "bitcoin", "nope", 1, apps).ok).toBe(false);
  });

  it("unset removes the value and empty mappings", () => {
    const r = setAppSetting(text, "bitcoin", "dbcache", 3000, apps);
    const back = r.ok ? unsetAppSetting(r.text, "bitcoin", "dbcache") : "";
    expect(parse(back)).toEqual(parse(text));
    expect(back).toContain("# the bitcoind");
  });
});
