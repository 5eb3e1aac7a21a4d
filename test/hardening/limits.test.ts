// Resource limits and privileges, asserted on the real quadlet's argv for every
// container of the bundled manifests/ catalog: --security-opt no-new-privileges,
// --cap-drop all plus exactly the declared --cap-add, --pids-limit, and --memory
// for UI apps (and wherever declared). A selection with
// settings.resource_limits: false drops --pids-limit and --memory only.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../src/plan/inputs.js";
import { ReviewSecrets } from "../../src/configs/secrets.js";
import { formatDiagnostic } from "../../src/manifest/diagnostics.js";
import { dryrun } from "../helpers/quadlet.js";
import { containerNameOf, execStartArgv, scratch, UNIT_DIR } from "./helpers.js";

const REPO = join(import.meta.dirname, "../..");
const MANIFESTS = join(REPO, "manifests");
const root = scratch("archy-limits-");
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface RawApp {
  id: string;
  kind: string;
  containers: Record<string, { capabilities?: string[]; memory?: string; pids_limit?: number }>;
  dependencies?: Record<string, { optional?: boolean }>;
}
const catalog = readdirSync(MANIFESTS)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((f) => parse(readFileSync(join(MANIFESTS, f), "utf8")) as RawApp);

/** Compile (catalog or a selection), run the real quadlet, return podman's argv per container service. */
function argvs(selection?: unknown): Map<string, string[]> {
  let select: string | undefined;
  if (selection) {
    select = join(root, `selection-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(select, stringify(selection));
  }
  const r = compile({ manifests: MANIFESTS, select, secrets: new ReviewSecrets() });
  expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
  const dir = join(root, `units-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  for (const f of r.files.filter((x) => x.path.startsWith(`${UNIT_DIR}/`))) writeFileSync(join(dir, f.path.split("/").pop()!), f.content);
  const dr = dryrun(dir);
  expect(dr.code, dr.stderr).toBe(0);
  const out = new Map<string, string[]>();
  for (const [svc, text] of dr.services) if (!svc.endsWith("-build.service") && !svc.endsWith("-network.service")) out.set(svc, execStartArgv(text));
  return out;
}

/** Words after each occurrence of a flag (`--cap-add x`), or of `--flag=value`. */
function values(argv: string[], flag: string): string[] {
  const out: string[] = [];
  argv.forEach((w, i) => {
    if (w === flag && i + 1 < argv.length) out.push(argv[i + 1]!);
    else if (w.startsWith(`${flag}=`)) out.push(w.slice(flag.length + 1));
  });
  return out;
}

/** Every catalog app except non-default role providers and whatever then lacks a required dependency. */
function wholeNode(): string[] {
  let apps = catalog.filter((a) => !["bitcoin-core", "electrs", "fulcrum"].includes(a.id)).map((a) => a.id);
  for (let i = 0; i < 5; i++) {
    const select = join(root, `probe-${i}.yaml`);
    writeFileSync(select, stringify({ apps }));
    const r = compile({ manifests: MANIFESTS, select, secrets: new ReviewSecrets() });
    const missing = new Set(r.diagnostics.filter((d) => /requires ".*", which is not in this selection/.test(d.message)).map((d) => d.file.split("/").pop()!.replace(/\.yaml$/, "")));
    if (missing.size === 0) break;
    apps = apps.filter((a) => !missing.has(a));
  }
  return apps;
}

describe("every container of the bundled catalog, on the real quadlet's argv", () => {
  const byService = new Map<string, { app: RawApp; key: string }>();
  for (const a of catalog) for (const key of Object.keys(a.containers)) byService.set(`${containerNameOf(a, key)}.service`, { app: a, key });

  it("no-new-privileges, --cap-drop all + exactly the declared --cap-add, --pids-limit, --memory for UIs and where declared", () => {
    const all = argvs();
    expect(all.size).toBe(byService.size);
    expect(all.size).toBeGreaterThan(25);
    const wrong: string[] = [];
    for (const [svc, argv] of all) {
      const { app, key } = byService.get(svc)!;
      const c = app.containers[key]!;
      const secOpts = values(argv, "--security-opt");
      if (!secOpts.includes("no-new-privileges")) wrong.push(`${svc}: no --security-opt no-new-privileges (${JSON.stringify(secOpts)})`);
      const drops = values(argv, "--cap-drop");
      if (JSON.stringify(drops) !== JSON.stringify(["all"])) wrong.push(`${svc}: --cap-drop ${JSON.stringify(drops)}`);
      const adds = values(argv, "--cap-add").sort();
      const declared = [...new Set((c.capabilities ?? []).map((x) => x.toLowerCase().replace(/^cap_/, "")))].sort();
      if (JSON.stringify(adds) !== JSON.stringify(declared)) wrong.push(`${svc}: --cap-add ${JSON.stringify(adds)}, declared ${JSON.stringify(declared)}`);
      if (adds.includes("all") || argv.includes("--privileged")) wrong.push(`${svc}: full privileges`);
      const pids = values(argv, "--pids-limit");
      if (JSON.stringify(pids) !== JSON.stringify([String(c.pids_limit ?? 4096)])) wrong.push(`${svc}: --pids-limit ${JSON.stringify(pids)}`);
      const mem = values(argv, "--memory");
      const wantMem = c.memory ?? (app.kind === "ui" ? "256m" : undefined);
      if (JSON.stringify(mem) !== JSON.stringify(wantMem ? [wantMem] : [])) wrong.push(`${svc}: --memory ${JSON.stringify(mem)}, want ${wantMem}`);
      if (app.kind === "ui" && mem.length !== 1) wrong.push(`${svc}: a UI without --memory`);
    }
    expect(wrong).toEqual([]);
  });

  it("settings.resource_limits: false drops --pids-limit and --memory, and nothing else", () => {
    const apps = wholeNode();
    expect(apps.length).toBeGreaterThan(15);
    const on = argvs({ apps, settings: { resource_limits: true } });
    const off = argvs({ apps, settings: { resource_limits: false } });
    expect([...off.keys()].sort()).toEqual([...on.keys()].sort());
    let memories = 0;
    for (const [svc, argv] of on) {
      const stripped: string[] = [];
      for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--pids-limit") {
          i++;
          continue;
        }
        if (argv[i]!.startsWith("--memory=")) {
          memories++;
          continue;
        }
        stripped.push(argv[i]!);
      }
      // quadlet orders a few flags differently from run to run (Go map order): compare as multisets,
      // and the image + command tail exactly.
      expect([...off.get(svc)!].sort(), svc).toEqual([...stripped].sort());
      expect(off.get(svc)!.slice(-4), svc).toEqual(stripped.slice(-4));
      expect(values(off.get(svc)!, "--pids-limit"), svc).toEqual([]);
      expect(values(off.get(svc)!, "--memory"), svc).toEqual([]);
      expect(values(off.get(svc)!, "--cap-drop"), svc).toEqual(["all"]);
    }
    expect(memories).toBeGreaterThan(10);
  });
});
