// Issue 15 with the recording fake (real quadlet preflight): images are made present
// before the switch (image exists → no pull; a pull retried; a failed pull switches nothing
// and calls no systemctl), changed builds are built beforehand with their unit's tag, file
// and context, --fetch-only stages without switching, rollback with its images on disk
// pulls nothing, cleanup removes only recorded images no kept generation references, by
// ID, and the disk guard refuses below min_free_disk.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { scripted, type RecordedCall } from "../../src/apply/adapter.js";
import { apply, rollback } from "../../src/apply/apply.js";
import { buildSpecs, readRecord, recordPath } from "../../src/apply/images.js";
import { dataDirs } from "../../src/apply/disk.js";
import type { Tree } from "../../src/apply/plan.js";
import { UNIT_DIR } from "../../src/lower/lower.js";
import { currentId, genDir, listGenerations, readGeneration, statePaths } from "../../src/apply/state.js";
import { EXIT_CODES } from "../../src/cli/main.js";
import { Failure } from "../../src/outcome.js";
import { UserError } from "../../src/manifest/diagnostics.js";
import { cleanup, edit, entries, inputs, logged, runCli, showAll, snapshot, testEnv, workspace, type Rule } from "./helpers.js";

afterAll(cleanup);

const NGINX = "docker.io/library/nginx:1.27";
const NGINX2 = "docker.io/library/nginx:1.28";
const BUSYBOX = "docker.io/library/busybox:1.36";
const UI_TAG = "localhost/archy/archy-ui:1.0";
const missing = (ref: string) => scripted([{ cmd: "podman", args: ["image", "exists", ref], code: 1 }])[0]!;
const ids: Rule = (c) => (c.cmd === "podman" && c.args[0] === "image" && c.args[1] === "inspect" ? { code: 0, stdout: `sha256:id-of-${c.args.at(-1)}\n`, stderr: "" } : undefined);
const systemctl = (calls: readonly RecordedCall[]) => calls.filter((c) => c.cmd === "systemctl");
const idOf = (ref: string) => `sha256:id-of-${ref}`;

describe("images before the switch", () => {
  it("every image present: checked with podman image exists, nothing pulled; the first apply builds the UI before any systemctl call", async () => {
    const ws = workspace();
    const env = testEnv(ws, [ids]);
    await apply(env, inputs(ws));
    const calls = showAll(env.adapter.calls);
    // The UI's build is new, so built without asking whether its tag exists.
    expect(calls.filter((c) => c.startsWith("podman image exists"))).toEqual([`podman image exists ${BUSYBOX}`, `podman image exists ${NGINX}`]);
    expect(calls.some((c) => c.startsWith("podman pull"))).toBe(false);
    const build = calls.findIndex((c) => c.startsWith("podman build"));
    expect(build).toBeGreaterThan(-1);
    expect(build).toBeLessThan(calls.findIndex((c) => c.startsWith("systemctl")));
    expect(env.lines).toContain("image 1/1: building localhost/archy/archy-ui:1.0 (archy-ui.build)");
  });

  it("builds a changed .build with the tag, file, context and labels of its unit, from the new generation before the switch; an unchanged one present is not rebuilt", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    edit(ws, "build/ui/index.html", (t) => `${t}<!-- v2 -->\n`);
    let atBuild: { current?: number; contextThere: boolean } | undefined;
    const env = testEnv(ws, [
      (c) => {
        if (c.cmd === "podman" && c.args[0] === "build") atBuild = { current: currentId(ws.root), contextThere: existsSync(c.args.at(-1)!) && existsSync(c.args[c.args.indexOf("--file") + 1]!) };
        return undefined;
      },
      ids,
    ]);
    await apply(env, inputs(ws));
    const spec = buildSpecs(readGeneration(ws.root, 2))[0]!;
    expect(spec).toMatchObject({ tag: UI_TAG, file: "/etc/archy/build/archy-ui/Containerfile", context: "/etc/archy/build/archy-ui" });
    const g2 = genDir(ws.root, 2);
    const builds = env.adapter.calls.filter((c) => c.args[0] === "build");
    expect(builds.map((c) => c.args)).toEqual([["build", "--tag", UI_TAG, ...spec.labels.flatMap((l) => ["--label", l]), "--file", join(g2, spec.file), join(g2, spec.context)]]);
    expect(spec.labels.some((l) => l.startsWith("archy.context-hash="))).toBe(true);
    // Built while generation 1 was still the active one, from generation 2's own context.
    expect(atBuild).toEqual({ current: 1, contextThere: true });
    expect(readRecord(ws.root)).toMatchObject([{ ref: UI_TAG, id: idOf(UI_TAG), source: "built" }]);
    // Nothing changed in the build: the tag is present, no build.
    edit(ws, "web.yaml", (t) => t.replace("18080", "18090"));
    const env3 = testEnv(ws, [ids]);
    await apply(env3, inputs(ws));
    expect(env3.adapter.calls.filter((c) => c.args[0] === "build")).toEqual([]);
  });

  it("a missing image is pulled by its exact reference and recorded with its ID", async () => {
    const ws = workspace();
    const env = testEnv(ws, [missing(NGINX), ids]);
    await apply(env, inputs(ws));
    const calls = showAll(env.adapter.calls);
    expect(calls.filter((c) => c.startsWith("podman pull"))).toEqual([`podman pull ${NGINX}`]);
    expect(calls.indexOf(`podman pull ${NGINX}`)).toBeLessThan(calls.findIndex((c) => c.startsWith("systemctl")));
    expect(env.lines.some((l) => /^image 1\/2: pulled docker\.io\/library\/nginx:1\.27 in \d+\.\d s$/.test(l))).toBe(true);
    expect(readRecord(ws.root).map((e) => [e.ref, e.id, e.source])).toEqual([[NGINX, idOf(NGINX), "pulled"], [UI_TAG, idOf(UI_TAG), "built"]]);
    expect(JSON.parse(readFileSync(recordPath(ws.root), "utf8")).images).toHaveLength(2);
  });

  it("a failed pull is retried, then succeeds", async () => {
    const ws = workspace();
    const env = testEnv(ws, [missing(NGINX), ...scripted([{ cmd: "podman", args: ["pull", NGINX], code: 125, stderr: "Error: dial tcp: i/o timeout", times: 2 }]), ids]);
    const r = await apply(env, inputs(ws));
    expect(r.generation).toBe(1);
    expect(showAll(env.adapter.calls).filter((c) => c.startsWith("podman pull"))).toEqual([`podman pull ${NGINX}`, `podman pull ${NGINX}`, `podman pull ${NGINX}`]);
    expect(env.lines.filter((l) => l.includes("retrying in"))).toHaveLength(2);
    expect(systemctl(env.adapter.calls).length).toBeGreaterThan(0);
  });

  it("a pull that keeps failing: nothing switched, no systemctl call, exit 3 naming the image and podman's error", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    edit(ws, "web.yaml", (t) => t.replace(NGINX, NGINX2));
    const before = entries(ws.root);
    const env = testEnv(ws, [missing(NGINX2), ...scripted([{ cmd: "podman", args: ["pull", NGINX2], code: 125, stderr: "Error: initializing source docker://nginx:1.28: reading manifest 1.28: manifest unknown" }])]);
    const err = await apply(env, inputs(ws)).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Failure);
    expect(EXIT_CODES[(err as Failure).kind]).toBe(3);
    expect((err as Failure).message).toContain(`could not pull image ${NGINX2}`);
    expect((err as Failure).message).toContain("manifest unknown");
    // A reference the registry lacks is not retried; nothing else happened.
    expect(showAll(env.adapter.calls).filter((c) => c.startsWith("podman pull"))).toEqual([`podman pull ${NGINX2}`]);
    expect(systemctl(env.adapter.calls)).toEqual([]);
    expect(currentId(ws.root)).toBe(1);
    expect(listGenerations(ws.root).map((g) => g.id)).toEqual([1]);
    expect(entries(ws.root)).toEqual(before);
  });

  it("through the CLI: a failed pull exits 3 with the image and podman's stderr, no systemctl call", async () => {
    const ws = workspace();
    const script = join(ws.dir, "script.json");
    writeFileSync(script, JSON.stringify([{ cmd: "podman", args: ["image", "exists", NGINX], code: 1 }, { cmd: "podman", args: ["pull", NGINX], code: 125, stderr: "Error: connection refused" }]));
    const r = await runCli(["apply", "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets], { log: ws.log, env: { ARCHY_QUADLET_ADAPTER_SCRIPT: script } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`error: could not pull image ${NGINX}`);
    expect(r.stderr).toContain("Error: connection refused");
    expect(logged(ws.log).filter((c) => c.cmd === "podman" && c.args[0] === "pull")).toHaveLength(3);
    expect(logged(ws.log).filter((c) => c.cmd === "systemctl")).toEqual([]);
    expect(currentId(ws.root)).toBeUndefined();
  });

  it("a failed build: nothing switched, no systemctl call, exit 3 naming the image", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    edit(ws, "build/ui/index.html", (t) => `${t}<!-- v2 -->\n`);
    const env = testEnv(ws, scripted([{ cmd: "podman", args: ["build"], code: 1, stderr: "Error: building at STEP \"COPY index.html /x\": no such file" }]));
    await expect(apply(env, inputs(ws))).rejects.toMatchObject({ kind: "failed", message: expect.stringMatching(/could not build image localhost\/archy\/archy-ui:1\.0[\s\S]*COPY index\.html/) });
    expect(systemctl(env.adapter.calls)).toEqual([]);
    expect(currentId(ws.root)).toBe(1);
  });
});

describe("apply --fetch-only", () => {
  it("pulls what the new generation lacks, switches nothing, calls no systemctl, leaves no generation", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    edit(ws, "web.yaml", (t) => t.replace(NGINX, NGINX2));
    const active = snapshot(join(ws.root, "etc"));
    const env = testEnv(ws, [missing(NGINX2), ids]);
    const r = await apply(env, inputs(ws), { fetchOnly: true });
    expect(r.generation).toBe(1);
    expect(showAll(env.adapter.calls).filter((c) => c.startsWith("podman pull"))).toEqual([`podman pull ${NGINX2}`]);
    expect(systemctl(env.adapter.calls)).toEqual([]);
    expect(currentId(ws.root)).toBe(1);
    expect(listGenerations(ws.root).map((g) => g.id)).toEqual([1]);
    expect(existsSync(genDir(ws.root, 2))).toBe(false);
    expect(snapshot(join(ws.root, "etc"))).toEqual(active);
    expect(env.lines.at(-1)).toBe("fetch-only: every image the new generation needs is local; nothing was switched");
    // The apply that follows finds the image local and switches.
    const env2 = testEnv(ws);
    expect((await apply(env2, inputs(ws))).generation).toBe(2);
    expect(showAll(env2.adapter.calls).some((c) => c.startsWith("podman pull"))).toBe(false);
  });

  it("through the CLI: exit 0, nothing switched, no systemctl", async () => {
    const ws = workspace();
    const script = join(ws.dir, "script.json");
    writeFileSync(script, JSON.stringify([{ cmd: "podman", args: ["image", "exists", NGINX], code: 1 }]));
    const r = await runCli(["apply", "--fetch-only", "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets], { log: ws.log, env: { ARCHY_QUADLET_ADAPTER_SCRIPT: script } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("nothing was switched");
    expect(logged(ws.log).filter((c) => c.cmd === "podman" && c.args[0] === "pull").map((c) => c.args)).toEqual([["pull", NGINX]]);
    expect(logged(ws.log).filter((c) => c.cmd === "systemctl")).toEqual([]);
    expect(currentId(ws.root)).toBeUndefined();
  });
});

describe("rollback", () => {
  it("with the target's images on disk: checks them, pulls nothing (offline); with one missing and the registry unreachable: refuses, no systemctl", async () => {
    const ws = workspace();
    await apply(testEnv(ws), inputs(ws));
    edit(ws, "web.yaml", (t) => t.replace(NGINX, NGINX2));
    await apply(testEnv(ws), inputs(ws));
    const offline = scripted([{ cmd: "podman", args: ["pull"], code: 125, stderr: "Error: dial tcp: lookup registry: no such host" }]);
    const gone = testEnv(ws, [missing(NGINX), ...offline]);
    await expect(rollback(gone, 1)).rejects.toMatchObject({ kind: "failed", message: expect.stringContaining(`could not pull image ${NGINX}`) });
    expect(systemctl(gone.adapter.calls)).toEqual([]);
    expect(currentId(ws.root)).toBe(2);
    const env = testEnv(ws, offline);
    const r = await rollback(env, 1);
    expect(r.generation).toBe(1);
    expect(showAll(env.adapter.calls).filter((c) => c.startsWith("podman image exists"))).toEqual([`podman image exists ${BUSYBOX}`, `podman image exists ${NGINX}`, `podman image exists ${UI_TAG}`]);
    expect(showAll(env.adapter.calls).filter((c) => c.startsWith("podman pull") || c.startsWith("podman build"))).toEqual([]);
    // No disk guard either when nothing is fetched.
    expect(showAll(env.adapter.calls)).not.toContain("podman info --format json");
  });
});

describe("cleanup", () => {
  it("removes by ID only recorded images no kept generation references; never a foreign one; an rmi refused is a warning", async () => {
    const ws = workspace();
    // Generation 1 pulls nginx 1.27 (recorded); busybox was on the node already (foreign to us).
    await apply(testEnv(ws, [missing(NGINX), ids]), inputs(ws, { keep: 1 }));
    expect(readRecord(ws.root).map((e) => e.ref)).toEqual([NGINX, UI_TAG]);
    // A hand-made record entry for an image a container still uses: rmi refuses.
    const rec = JSON.parse(readFileSync(recordPath(ws.root), "utf8")) as { images: unknown[] };
    rec.images.push({ ref: "docker.io/library/old:1", id: "sha256:busy", source: "pulled", time: "2026-01-01T00:00:00.000Z" });
    writeFileSync(recordPath(ws.root), JSON.stringify(rec));
    edit(ws, "web.yaml", (t) => t.replace(NGINX, NGINX2));
    const env = testEnv(ws, [missing(NGINX2), ids, ...scripted([{ cmd: "podman", args: ["rmi", "sha256:busy"], code: 2, stderr: "Error: image used by 4f1c: image is in use by a container" }])]);
    const r = await apply(env, inputs(ws, { keep: 1 }));
    expect(r.failures).toEqual([]);
    expect(listGenerations(ws.root).map((g) => g.id)).toEqual([2]);
    const rmis = env.adapter.calls.filter((c) => c.args[0] === "rmi").map((c) => c.args);
    expect(rmis).toEqual([["rmi", idOf(NGINX)], ["rmi", "sha256:busy"]]);
    expect(env.adapter.calls.some((c) => c.args.includes("prune") || c.args.includes("--force") || c.args.includes("-f") || c.args.includes("volume"))).toBe(false);
    expect(env.adapter.calls.some((c) => c.args.includes(BUSYBOX) && c.args[0] === "rmi")).toBe(false);
    expect(env.lines).toContain(`cleanup: removed image ${NGINX} (${idOf(NGINX).slice(0, 12)}), no kept generation uses it`);
    expect(env.lines.some((l) => l.startsWith("warning: cleanup: could not remove image docker.io/library/old:1") && l.includes("in use by a container"))).toBe(true);
    expect(readRecord(ws.root).map((e) => e.ref).sort()).toEqual(["docker.io/library/old:1", NGINX2, UI_TAG].sort());
  });

  it("keeps the images of every kept generation (rollback stays offline) and nothing runs while an OTA release is pending", async () => {
    const ws = workspace();
    await apply(testEnv(ws, [missing(NGINX), ids]), inputs(ws));
    edit(ws, "web.yaml", (t) => t.replace(NGINX, NGINX2));
    const env = testEnv(ws, [missing(NGINX2), ids]);
    await apply(env, inputs(ws));
    expect(env.adapter.calls.filter((c) => c.args[0] === "rmi")).toEqual([]);
    expect(readRecord(ws.root).map((e) => e.ref).sort()).toEqual([NGINX, NGINX2, UI_TAG].sort());
    // Pending OTA: the apply records state pending and leaves cleanup to ota verify.
    mkdirSync(statePaths(ws.root).ota, { recursive: true });
    writeFileSync(join(statePaths(ws.root).ota, "pending.json"), JSON.stringify({ release: "r", fallback: 2, time: "t", attempts: 0, rolledBack: false }));
    edit(ws, "web.yaml", (t) => t.replace("18080", "18090"));
    const env3 = testEnv(ws, [ids]);
    await apply(env3, inputs(ws, { keep: 1 }));
    expect(env3.adapter.calls.filter((c) => c.args[0] === "rmi")).toEqual([]);
  });
});

describe("disk guard", () => {
  it("checks what containers write to, not read-only host mounts (netdata's /proc reports 0 bytes free)", () => {
    const unit = "[Container]\nVolume=/proc:/host/proc:ro\nVolume=/var/log:/host/var/log:ro\nVolume=/etc/archy/x/x.conf:/x.conf:ro\nVolume=/var/lib/archy/apps/x/data:/data:rw\nVolume=/srv/y:/y\nVolume=named:/z\n";
    const tree: Tree = new Map([[`${UNIT_DIR}/x.container`, { content: Buffer.from(unit), mode: 0o644 }]]);
    expect(dataDirs(tree)).toEqual(["/srv/y", "/var/lib/archy/apps/x/data"]);
  });

  const select = (ws: { dir: string }, extra = "") => {
    const f = join(ws.dir, "node.yaml");
    writeFileSync(f, `apps: [btc, web]\n${extra}`);
    return f;
  };

  it("refuses below min_free_disk (default 2G) naming the file system, free and required: exit 3, nothing pulled or switched", async () => {
    const ws = workspace();
    const env = testEnv(ws, [missing(NGINX), ...scripted([{ cmd: "podman", args: ["info", "--format", "json"], stdout: JSON.stringify({ store: { graphRoot: "/srv/podman-store" } }) }])]);
    env.freeBytes = () => 1024 ** 3;
    const err = (await apply(env, inputs(ws, { select: select(ws) })).catch((e: unknown) => e)) as Failure;
    expect(EXIT_CODES[err.kind]).toBe(3);
    expect(err.message).toContain("not enough free disk space");
    expect(err.message).toMatch(/^ {2}\/srv\/podman-store \(podman graph root\)(, \S+ \(app data\))*: 1\.0G free, min_free_disk requires 2\.0G$/m);
    expect(env.adapter.calls.filter((c) => c.cmd === "systemctl" || c.args[0] === "pull")).toEqual([]);
    expect(currentId(ws.root)).toBeUndefined();
  });

  it("names an app data file system that is low, and passes with a lower min_free_disk", async () => {
    const ws = workspace();
    const graph = scripted([{ cmd: "podman", args: ["info", "--format", "json"], stdout: JSON.stringify({ store: { graphRoot: "/srv/podman-store" } }) }]);
    const env = testEnv(ws, graph);
    env.freeBytes = () => 3 * 1024 ** 3;
    await expect(apply(env, inputs(ws, { select: select(ws, "settings:\n  min_free_disk: 5G\n") }))).rejects.toMatchObject({
      kind: "failed",
      message: expect.stringMatching(/\/var\/lib\/archy\/apps\/btc\/data \(app data\)[^\n]*: 3\.0G free, min_free_disk requires 5\.0G/),
    });
    const ok = testEnv(ws, graph);
    ok.freeBytes = env.freeBytes;
    expect((await apply(ok, inputs(ws, { select: select(ws, "settings:\n  min_free_disk: 2.5G\n") }))).generation).toBe(1);
  });

  it("a bad min_free_disk is a diagnostic at its line and column", async () => {
    const ws = workspace();
    const env = testEnv(ws);
    const err = (await apply(env, inputs(ws, { select: select(ws, "settings:\n  min_free_disk: lots\n") })).catch((e: unknown) => e)) as UserError;
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/node\.yaml:3:18: error: settings\.min_free_disk: min_free_disk must be a size like 500M, 5G or 1\.5T/);
    expect(env.adapter.calls).toEqual([]);
  });
});
