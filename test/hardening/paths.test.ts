// Paths: app ids and container names cannot leave their directories; host volume
// paths stay under the app's data root unless the app is `system: true` AND
// allow-listed; --out and --root never write through a symlink archy-quadlet did
// not create; and every file written is one the plan named, inside the target.
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, posix } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { DATA_ROOT, SYSTEM_APPS } from "../../src/lower/lower.js";
import { isOwned } from "../../src/plan/tree.js";
import { ACTIVE_REL, stableLinks, STATE_REL } from "../../src/apply/state.js";
import { formatDiagnostic } from "../../src/manifest/diagnostics.js";
import { cli } from "../helpers/cli.js";
import { CATALOG, cleanup as cleanupWorkspaces, runCli, snapshot, workspace, type Workspace } from "../apply/helpers.js";
import { compileDir, execStartArgv, listFiles, scratch, writeCatalog, UNIT_DIR } from "./helpers.js";
import { dryrun } from "../helpers/quadlet.js";

const root = scratch("archy-paths-");
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  cleanupWorkspaces();
});
let n = 0;
const fresh = (name: string) => {
  const d = join(root, `${name}-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
};

const IMAGE = "docker.io/library/busybox:1.36";
const app = (id: string, containers: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ id, name: "Paths", version: "1.0", kind: "service", description: "d", ...extra, containers });

describe("app ids and container names cannot escape directories", () => {
  const ESCAPES = ["..", ".", "a/b", "/abs", "../x", "x/..", "a\\b", "~", "a..b", "-a", "a.", "%2e%2e", "..%2f", "\u2024\u2024", "ａ", "a\u0000b", "", " a", "A"];

  it.each(ESCAPES.map((s) => [JSON.stringify(s), s]))("app id %s is refused with a diagnostic on `id`", (_, id) => {
    const dir = writeCatalog(fresh("id"), { "app.yaml": JSON.stringify(app(id, { web: { image: IMAGE } })) });
    const r = compileDir(dir);
    expect(r.files).toEqual([]);
    expect(r.diagnostics.some((d) => d.path === "id"), r.diagnostics.map(formatDiagnostic).join("\n")).toBe(true);
  });

  it.each(ESCAPES.map((s) => [JSON.stringify(s), s]))("container key %s is refused with a diagnostic on `containers`", (_, key) => {
    const dir = writeCatalog(fresh("key"), { "app.yaml": JSON.stringify(app("app", { [key]: { image: IMAGE }, web: { image: IMAGE } })) });
    const r = compileDir(dir);
    expect(r.files).toEqual([]);
    expect(r.diagnostics.some((d) => d.path?.startsWith("containers")), r.diagnostics.map(formatDiagnostic).join("\n")).toBe(true);
  });

  it("property: whatever ids, keys, aliases and sources a manifest holds, every planned path is relative, normalised and owned", () => {
    const seg = fc.oneof(fc.constantFrom("..", ".", "", "a", "web", "x-1", "/", "~", "%", "\\"), fc.string({ unit: fc.constantFrom(..."abz09-._/\\~%"), maxLength: 8 }));
    fc.assert(
      fc.property(seg, seg, seg, seg, fc.boolean(), (id, key, source, alias, ui) => {
        const dir = writeCatalog(fresh("prop"), { [`${/^[a-z0-9-]+$/.test(id) ? id : "x"}.yaml`]: JSON.stringify(app(id, { [key]: { image: IMAGE, aliases: [alias], volumes: [{ source, target: "/data" }] } }, { kind: ui ? "ui" : "service" })) });
        const r = compileDir(dir);
        for (const f of r.files) {
          expect(f.path.startsWith("/")).toBe(false);
          expect(posix.normalize(f.path)).toBe(f.path);
          expect(f.path.split("/")).not.toContain("..");
          expect(isOwned(f.path), f.path).toBe(true);
        }
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 400 },
    );
  });
});

describe("host volume paths stay under the app's data root unless the app is system: true AND allow-listed", () => {
  const allowed = [...SYSTEM_APPS][0]!;

  it("property: a relative source, however written, lands under /var/lib/archy/apps/<id>/ (in -v and in ExecStartPre)", () => {
    const source = fc.string({ unit: fc.constantFrom(..."ab.-_/@+"), minLength: 1, maxLength: 12 });
    const cases: { id: string; sources: string[]; units: Map<string, string> }[] = [];
    let i = 0;
    fc.assert(
      fc.property(fc.uniqueArray(source, { minLength: 1, maxLength: 4 }), fc.boolean(), (sources, owner) => {
        const id = `p${++i}x`;
        const volumes = sources.map((s, j) => ({ source: s, target: `/v${j}`, read_only: true, ...(owner ? { owner: "1000:1000" } : {}) }));
        const dir = writeCatalog(fresh("vol"), { [`${id}.yaml`]: JSON.stringify(app(id, { web: { image: IMAGE, volumes } })) });
        const r = compileDir(dir);
        if (r.diagnostics.length > 0) {
          // Refused: only ever for the source itself.
          for (const d of r.diagnostics) expect(d.path ?? "", formatDiagnostic(d)).toMatch(/^containers\.web\.volumes\[\d+\]/);
          return;
        }
        const units = new Map(r.files.filter((f) => f.path.startsWith(`${UNIT_DIR}/`)).map((f) => [f.path.split("/").pop()!, String(f.content)]));
        cases.push({ id, sources, units });
      }),
      { numRuns: 300 },
    );
    expect(cases.length).toBeGreaterThan(50);
    // Through the real quadlet, in one batch.
    const dir = fresh("vol-units");
    for (const c of cases) for (const [name, text] of c.units) writeFileSync(join(dir, name), text);
    const dr = dryrun(dir);
    expect(dr.code, dr.stderr).toBe(0);
    for (const c of cases) {
      const svc = dr.services.get(`${c.id}.service`)!;
      const argv = execStartArgv(svc);
      const base = `${DATA_ROOT}/${c.id}`;
      const hosts = argv.flatMap((w, j) => (argv[j - 1] === "-v" ? [w.split(":")[0]!] : []));
      expect(hosts.length).toBe(c.sources.length);
      for (const h of hosts) {
        const norm = posix.normalize(h).replace(/\/$/, "");
        expect(norm === base || norm.startsWith(`${base}/`), `${h} escapes ${base}`).toBe(true);
      }
      // mkdir -p / install -d run as root before the container: same rule.
      for (const line of svc.split("\n").filter((l) => l.startsWith("ExecStartPre="))) {
        for (const w of line.slice("ExecStartPre=".length).split(" ").filter((x) => x.startsWith("/var/") || x.startsWith("/etc") || x === "/")) {
          const norm = posix.normalize(w).replace(/\/$/, "");
          expect(norm === base || norm.startsWith(`${base}/`), `${line}`).toBe(true);
        }
      }
    }
  });

  const ABS = ["/etc", "/", "/var/lib/archy/apps/other", "/var/lib/archy-quadlet", "/root/.ssh", "/proc"];
  const verdicts: [string, Record<string, unknown>, string, boolean][] = [
    ["a plain app", {}, "app", false],
    ["system: true, not allow-listed", { system: true }, "app", false],
    [`allow-listed (${allowed}) without system: true`, {}, allowed, false],
    [`allow-listed (${allowed}) with system: true`, { system: true }, allowed, true],
  ];
  it.each(verdicts)("absolute sources for %s: %s", (_, extra, id, ok) => {
    for (const source of ABS) {
      const dir = writeCatalog(fresh("abs"), { [`${id}.yaml`]: JSON.stringify(app(id, { web: { image: IMAGE, volumes: [{ source, target: "/host", read_only: true }] } }, extra)) });
      const r = compileDir(dir);
      if (ok) {
        expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
        const unit = r.files.find((f) => f.path === `${UNIT_DIR}/${id}.container`)!;
        expect(String(unit.content)).toContain(`Volume=${source}:/host:ro`);
      } else {
        expect(r.files).toEqual([]);
        expect(r.diagnostics.map(formatDiagnostic).join("\n")).toContain(`containers.web.volumes[0].source: absolute host path "${source}" is only allowed for allow-listed system apps`);
      }
    }
  });

  it("another app's data: read-only, relative, and only with a dependency", () => {
    const other = app("other", { web: { image: IMAGE, volumes: [{ source: "data", target: "/data" }] } });
    const cases: [Record<string, unknown>, Record<string, unknown>, string][] = [
      [{ app: "other", source: "data", target: "/o" }, { dependencies: { other: {} } }, 'volumes of another app ("other") must be read_only'],
      [{ app: "other", source: "/etc", target: "/o", read_only: true }, { dependencies: { other: {} } }, "with `app`, source must be relative to that app's data root"],
      [{ app: "other", source: "data", target: "/o", read_only: true }, {}, `reading "other"'s data requires a dependency on "other"`],
      [{ app: "other", source: "../x", target: "/o", read_only: true }, { dependencies: { other: {} } }, "host path must not contain '..'"],
    ];
    for (const [vol, extra, msg] of cases) {
      const dir = writeCatalog(fresh("xapp"), { "other.yaml": JSON.stringify(other), "reader.yaml": JSON.stringify(app("reader", { web: { image: IMAGE, volumes: [vol] } }, extra)) });
      const r = compileDir(dir);
      expect(r.files).toEqual([]);
      expect(r.diagnostics.map(formatDiagnostic).join("\n")).toContain(msg);
    }
    const dir = writeCatalog(fresh("xapp-ok"), { "other.yaml": JSON.stringify(other), "reader.yaml": JSON.stringify(app("reader", { web: { image: IMAGE, volumes: [{ app: "other", source: "data", target: "/o", read_only: true }] } }, { dependencies: { other: {} } })) });
    const r = compileDir(dir);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(String(r.files.find((f) => f.path.endsWith("/reader.container"))!.content)).toContain(`Volume=${DATA_ROOT}/other/data:/o:ro`);
  });

  it("a build context never leads outside the catalog: a symlinked context (or one inside it) is refused", () => {
    const outside = fresh("outside");
    writeFileSync(join(outside, "Containerfile"), "FROM scratch\n");
    writeFileSync(join(outside, "secret"), "do not copy\n");
    const base = fresh("ctx");
    const manifests = writeCatalog(base, { "b.yaml": JSON.stringify(app("b", { web: { build: { context: "ctx" } } })) });
    symlinkSync(outside, join(manifests, "ctx"));
    let r = compileDir(manifests);
    expect(r.files).toEqual([]);
    expect(r.diagnostics.map(formatDiagnostic).join("\n")).toContain('containers.web.build.context: build context "ctx" goes through the symlink "ctx"');
    rmSync(join(manifests, "ctx"));
    mkdirSync(join(manifests, "ctx"));
    writeFileSync(join(manifests, "ctx", "Containerfile"), "FROM scratch\n");
    symlinkSync(join(outside, "secret"), join(manifests, "ctx", "loot"));
    r = compileDir(manifests);
    expect(r.files).toEqual([]);
    expect(r.diagnostics.map(formatDiagnostic).join("\n")).toContain('contains the symlink "loot"');
  });
});

// ------------------------------------------------------------------ symlinks

/** Plant a symlink at `rel` under `base` pointing at a fresh directory (or file) outside; return the target. */
function plant(base: string, rel: string, kind: "dir" | "file", mode?: number): string {
  const target = fresh("elsewhere");
  let to = target;
  if (kind === "file") {
    to = join(target, "victim");
    writeFileSync(to, "victim\n");
  }
  if (mode !== undefined) chmodSync(target, mode);
  mkdirSync(join(base, rel, ".."), { recursive: true });
  symlinkSync(to, join(base, rel));
  return target;
}

describe("generate --out never writes through a symlink it did not create", () => {
  const PLANTS: [string, "dir" | "file"][] = [
    ["etc", "dir"],
    ["etc/containers", "dir"],
    ["etc/containers/systemd", "dir"],
    ["etc/containers/systemd/archy", "dir"],
    ["etc/containers/systemd/archy/web.container", "file"],
    ["etc/containers/containers.conf.d", "dir"],
    ["etc/containers/containers.conf.d/50-archy.conf", "file"],
    ["etc/archy", "dir"],
    ["etc/archy/indexer", "dir"],
    ["etc/archy/indexer/electrumx.env", "file"],
    ["etc/archy/build/archy-ui", "dir"],
    ["etc/systemd", "dir"],
    ["etc/systemd/system", "dir"],
    ["etc/systemd/system/archy-quadlet-reconcile.service", "file"],
  ];
  it.each(PLANTS)("a symlink at out/%s (%s): refused, nothing written anywhere", async (rel, kind) => {
    const out = fresh("out");
    const target = plant(out, rel, kind);
    const beforeTarget = snapshot(target);
    const beforeOut = snapshot(out);
    const r = await cli(["generate", "--manifests", CATALOG, "--out", out]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^error: refusing to write through symlink .* \(archy-quadlet did not create it\)\n$/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(snapshot(target)).toEqual(beforeTarget);
    expect(snapshot(out)).toEqual(beforeOut);
  });

  it("without symlinks the written tree is exactly the planned list, all inside --out", async () => {
    const out = fresh("out-ok");
    const r = await cli(["generate", "--manifests", CATALOG, "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    const planned = compileDir(CATALOG).files.map((f) => f.path).sort();
    expect(listFiles(out)).toEqual(planned);
    for (const p of planned) expect(lstatSync(join(out, p)).isFile()).toBe(true);
  });
});

describe("apply --root never writes through a symlink it did not create", () => {
  const applyArgs = (ws: Workspace, secrets = true) => ["apply", "--root", ws.root, "--manifests", ws.manifests, ...(secrets ? ["--secrets", ws.secrets] : [])];
  const PLANTS: [string, "dir" | "file", boolean, number?][] = [
    ["var", "dir", true],
    ["var/lib", "dir", true],
    [STATE_REL, "dir", true],
    [`${STATE_REL}/generations`, "dir", true],
    ["etc/archy-quadlet", "dir", true],
    [ACTIVE_REL, "dir", true],
    ["etc", "dir", true],
    ["etc/containers", "dir", true],
    ["etc/containers/systemd", "dir", true],
    ["etc/containers/systemd/archy", "dir", true],
    ["etc/archy", "dir", true],
    ["etc/containers/containers.conf.d/50-archy.conf", "file", true],
    ["etc/systemd/system", "dir", true],
    ["etc/systemd/system/timers.target.wants", "dir", true],
    ["etc/systemd/system/archy-quadlet-reconcile.timer", "file", true],
    // The default secrets store under --root, and its parent.
    ["var/lib/archy", "dir", false],
    ["var/lib/archy/secrets", "dir", false, 0o700],
  ];
  it.each(PLANTS)("a symlink at root/%s (%s): refused, nothing written through it", async (rel, kind, secrets, mode) => {
    const ws = workspace();
    const target = plant(ws.root, rel, kind, mode);
    const beforeTarget = snapshot(target);
    const r = await runCli(applyArgs(ws, secrets), { log: join(ws.dir, "calls.jsonl") });
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(/symlink|not created by archy-quadlet/);
    expect(r.stderr).not.toMatch(/^\s+at |internal error/m);
    expect(snapshot(target)).toEqual(beforeTarget);
    // Nothing was activated: no current link, no systemctl call.
    expect(existsSync(join(ws.root, STATE_REL, "current"))).toBe(false);
    expect(existsSync(join(ws.dir, "calls.jsonl")) ? readFileSync(join(ws.dir, "calls.jsonl"), "utf8") : "").toBe("");
  });

  it("a clean apply writes only the planned generation, state files, secrets and archy-quadlet's own links — all inside --root", async () => {
    const ws = workspace();
    const r = await runCli(applyArgs(ws, false), { log: join(ws.dir, "calls.jsonl") });
    expect(r.code, r.stderr).toBe(0);
    const planned = compileDir(ws.manifests).files.map((f) => f.path);
    const gen = readlinkSync(join(ws.root, STATE_REL, "current"));
    expect(gen).toBe("generations/1");
    const links = new Set(stableLinks().map((l) => l.at));
    const seen: string[] = [];
    const walk = (rel: string) => {
      for (const name of readdirSync(join(ws.root, rel)).sort()) {
        const r2 = rel ? `${rel}/${name}` : name;
        const st = lstatSync(join(ws.root, r2));
        if (st.isDirectory()) walk(r2);
        else seen.push(`${st.isSymbolicLink() ? "link" : "file"} ${r2}`);
      }
    };
    walk("");
    const genPrefix = `${STATE_REL}/generations/1/`;
    // The active tree, materialised on the root file system, is the same planned list.
    const activePrefix = `${ACTIVE_REL}/1/`;
    const unexpected = seen.filter((e) => {
      const [kind, p] = e.split(" ") as [string, string];
      if (kind === "link") return !(links.has(p) || p === `${STATE_REL}/current` || p === `${ACTIVE_REL}/current`);
      if (p.startsWith(genPrefix)) return !(planned.includes(p.slice(genPrefix.length)) || p === `${genPrefix}meta.json`);
      if (p.startsWith(activePrefix)) return !planned.includes(p.slice(activePrefix.length));
      return !(p === `${STATE_REL}/inputs.json` || /^var\/lib\/archy\/secrets\/rpc-[a-z0-9-]+$/.test(p));
    });
    expect(unexpected).toEqual([]);
    // Every planned file is in the generation, and every stable link resolves inside the root.
    for (const p of planned) expect(existsSync(join(ws.root, genPrefix, p)), p).toBe(true);
    for (const p of planned) expect(lstatSync(join(ws.root, activePrefix, p)).isFile(), p).toBe(true);
    for (const l of links) {
      const t = readlinkSync(join(ws.root, l));
      expect(t.startsWith("/"), `${l} -> ${t}`).toBe(false);
      expect(posix.normalize(posix.join(ws.root, posix.dirname(l), t)).startsWith(`${ws.root}/`), `${l} -> ${t}`).toBe(true);
    }
    // Nothing outside the root: the node's real /etc/archy and state dir were not touched.
    expect(existsSync("/etc/archy") && lstatSync("/etc/archy").mtimeMs > Date.now() - 60_000).toBe(false);
    expect(existsSync(`/${STATE_REL}/generations`) && lstatSync(`/${STATE_REL}/generations`).mtimeMs > Date.now() - 60_000).toBe(false);
  });
});
