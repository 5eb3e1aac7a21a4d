// What every node scenario does the same way: install the bundle the way a
// node has it, stage a release (overlay manifests + selection + stand-in
// images) where the node keeps it, apply, and ask systemd/podman.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { parse } from "yaml";
import { containerName } from "../../src/graph/graph.js";
import type { App } from "../../src/manifest/schema.js";
import { assertHostClean, boot, ensureRootfs, type Machine } from "./harness/machine.js";
import { CATALOG, writeOverlay, writeSelection, type OverlayOptions } from "./overlay.js";
import { buildStandins, publishStandins, type StandinSpec } from "./standins/images.js";

export const REPO = join(import.meta.dirname, "../..");
export const ARTIFACTS = join(import.meta.dirname, "artifacts");
export const MANIFESTS = "/usr/share/archy/manifests";
export const SELECTION = "/etc/archy-quadlet/selection.yaml";

export interface Guest {
  /** The booted machine; throws when the boot failed. */
  machine(): Machine;
  /** After a reboot or power cut: the machine object that now stands for the guest. */
  replace(m: Machine): void;
}

/**
 * One booted guest for a test file, the same way in every node suite: root is
 * required (the e2e fails, never skips), the rootfs is ensured, the guest booted
 * and the bundle installed, then `setup`. Any failed test (or setup) keeps the
 * guest's artifacts under test/e2e/artifacts/<machine>-<label>; at the end the
 * guest is powered off and the host checked clean.
 */
export function bootedGuest(
  label: string,
  o: { setup?: (m: Machine) => Promise<void>; moreArtifacts?: (m: Machine, dir: string) => Promise<void>; setupTimeoutMs?: number } = {},
): Guest {
  let m: Machine | undefined;
  let failed = false;
  const t0 = Date.now();
  beforeAll(async () => {
    expect(process.getuid?.(), "the end-to-end suite must run as root").toBe(0);
    await ensureRootfs();
    m = await boot({});
    try {
      await installBundle(m);
      await o.setup?.(m);
    } catch (e) {
      failed = true;
      throw e;
    }
  }, o.setupTimeoutMs ?? 900_000);
  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") failed = true;
  });
  afterAll(async () => {
    if (m) {
      if (failed) {
        const dir = join(ARTIFACTS, `${m.name}-${label}`);
        await m.collectArtifacts(dir).catch(() => {});
        await o.moreArtifacts?.(m, dir).catch(() => {});
        console.error(`[e2e] failure artifacts (console log, journalctl -b, podman ps -a): ${dir}`);
      }
      await m.poweroff();
      await assertHostClean(m.name);
    }
    console.log(`[e2e] ${label} suite: ${Math.round((Date.now() - t0) / 1000)} s`);
  }, 300_000);
  return {
    machine() {
      if (!m) throw new Error("machine did not boot");
      return m;
    },
    replace(next) {
      m = next;
    },
  };
}

/** Build the bundle once per process (the same build `npm run build` does). */
let built = false;
export function buildBundle(): void {
  if (built) return;
  execFileSync("node", [join(REPO, "scripts/build.mjs"), "--quiet"], { stdio: "inherit" });
  built = true;
}

/** Installed the way a node has it: one file and the node's own Node.js. */
export async function installBundle(m: Machine): Promise<void> {
  buildBundle();
  await m.copyIn(join(REPO, "dist/archy-quadlet.mjs"), "/opt/archy-quadlet/archy-quadlet.mjs");
  await m.writeFile("/usr/local/bin/archy-quadlet", '#!/bin/sh\nexec node /opt/archy-quadlet/archy-quadlet.mjs "$@"\n', 0o755);
}

export interface Release extends OverlayOptions {
  settings?: Record<string, unknown>;
  /** The selection's app_settings (typed per-app settings, keyed by app id or role). */
  appSettings?: Record<string, Record<string, unknown>>;
  /** With `registry`: apps whose images are not pushed (a tag the registry does not have). */
  unpublished?: string[];
}

/**
 * Write a release's manifests + selection into the guest and build the stand-in images it
 * needs; with `registry`, the pulled ones are pushed there instead of being kept local.
 */
export async function stage(m: Machine, r: Release): Promise<{ buildMs: number; dir: string; specs: StandinSpec[] }> {
  const dir = mkdtempSync(join(tmpdir(), "archy-release-"));
  try {
    const specs = writeOverlay(join(dir, "manifests"), r);
    writeSelection(join(dir, "selection.yaml"), r.apps, r.settings, r.appSettings);
    // Images first: the node's reconcile path unit may act on the manifests as soon as they land.
    const t0 = Date.now();
    const inRegistry = (ref: string) => r.registry !== undefined && ref.startsWith(`${r.registry}/`);
    await buildStandins(m, specs.filter((s) => !inRegistry(s.ref)));
    if (r.registry) await publishStandins(m, specs.filter((s) => inRegistry(s.ref) && !r.unpublished?.includes(s.app ?? "")), r.registry);
    const buildMs = Date.now() - t0;
    await m.exec(`rm -rf ${MANIFESTS} && mkdir -p ${MANIFESTS} /etc/archy-quadlet`);
    await m.copyIn(join(dir, "manifests"), MANIFESTS);
    await m.copyIn(join(dir, "selection.yaml"), SELECTION);
    return { buildMs, dir: join(dir, "manifests"), specs };
  } finally {
    // the caller may inspect dir/manifests before this is removed by the OS; keep it small
    setTimeout(() => rmSync(dir, { recursive: true, force: true }), 60_000).unref();
  }
}

export const apply = (m: Machine, extra = "", timeoutMs = 900_000) =>
  m.exec(`archy-quadlet apply --manifests ${MANIFESTS} --select ${SELECTION} ${extra}`, { timeoutMs, allowFail: true });

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000, stepMs = 1000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export async function isActive(m: Machine, unit: string): Promise<string> {
  return (await m.exec(`systemctl is-active ${unit}`, { allowFail: true })).stdout.trim();
}

export interface ContainerRow {
  app: string;
  name: string;
  health?: string | string[];
}

export function catalogApp(id: string): App {
  return parse(readFileSync(join(CATALOG, `${id}.yaml`), "utf8")) as App;
}

/** The containers the catalog's manifests give these apps, named as the compiler names them. */
export function containersOf(apps: string[]): ContainerRow[] {
  return apps.flatMap((id) => {
    const app = catalogApp(id);
    return Object.entries(app.containers).map(([key, c]) => ({ app: id, name: containerName(app, key), health: c.healthcheck?.cmd }));
  });
}
