// OTA verification: arm a marker before the new release starts, verify it
// after boot, mark good or roll back once. The greenboot / RAUC / systemd boot
// assessment pattern: bounded time, at most one fallback, then stop and ask.
import { mkdirSync, readFileSync, rmSync, appendFileSync } from "node:fs";
import { writeFileAtomic } from "../atomic.js";
import { join } from "node:path";
import { statePaths, currentId, readMeta, writeMeta, prune, readGeneration, listGenerations } from "../apply/state.js";
import { rollback, DEFAULT_KEEP, loadInputs, type Env } from "../apply/apply.js";
import { serviceOf } from "../apply/plan.js";
import { cleanupQuietly } from "../apply/images.js";
import type { Outcome } from "../outcome.js";
import type { OtaConfig } from "./config.js";
import { probeOnce, type ProbeResult } from "./probe.js";

export interface Marker {
  release: string;
  /** Generation active when the installer armed the marker: where a rollback goes. */
  fallback: number | null;
  time: string;
  attempts: number;
  rolledBack: boolean;
  evidence?: string;
}

/** How a verification ends: the release is good, it was rolled back, or a person must look. */
export type VerifyOutcome = Extract<Outcome, "ok" | "rolled-back" | "manual">;

const markerPath = (root: string) => join(statePaths(root).ota, "pending.json");
const historyPath = (root: string) => join(statePaths(root).ota, "history.jsonl");

function writeMarker(root: string, m: Marker): void {
  mkdirSync(statePaths(root).ota, { recursive: true, mode: 0o755 });
  writeFileAtomic(markerPath(root), JSON.stringify(m, null, 2) + "\n", 0o644);
}

type MarkerRead = { kind: "none" } | { kind: "ok"; marker: Marker } | { kind: "corrupt"; why: string };

export function readMarker(root: string): MarkerRead {
  let text: string;
  try {
    text = readFileSync(markerPath(root), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { kind: "none" };
    return { kind: "corrupt", why: `unreadable (${(e as NodeJS.ErrnoException).code})` };
  }
  try {
    const m = JSON.parse(text) as Marker;
    if (typeof m.release !== "string" || typeof m.rolledBack !== "boolean" || !(m.fallback === null || Number.isInteger(m.fallback))) throw new Error("missing fields");
    return { kind: "ok", marker: m };
  } catch (e) {
    return { kind: "corrupt", why: `not a valid marker (${(e as Error).message})` };
  }
}

function record(root: string, entry: Record<string, unknown>): void {
  mkdirSync(statePaths(root).ota, { recursive: true, mode: 0o755 });
  appendFileSync(historyPath(root), JSON.stringify({ time: new Date().toISOString(), ...entry }) + "\n");
}

export function prepare(env: Env, release: string): Marker {
  const m: Marker = { release, fallback: currentId(env.root) ?? null, time: new Date().toISOString(), attempts: 0, rolledBack: false };
  writeMarker(env.root, m);
  env.log(`ota: armed verification for release ${release} (fallback generation ${m.fallback ?? "none"})`);
  return m;
}

export const HEALTH_FORMAT = "{{if .State.Health}}{{.State.Health.Status}}{{end}}";

async function servicesHealthy(env: Env): Promise<ProbeResult> {
  const cur = currentId(env.root);
  if (cur === undefined) return { ok: false, evidence: "no current generation" };
  const services = [...readGeneration(env.root, cur).keys()].filter((p) => p.endsWith(".container")).map((p) => serviceOf(p)!);
  for (const svc of services.sort()) {
    const a = await env.adapter.run("systemctl", ["is-active", svc]);
    if (a.stdout.trim() !== "active") return { ok: false, evidence: `${svc} is ${a.stdout.trim() || "unknown"}` };
    const name = svc.replace(/\.service$/, "");
    // A container without a health check has no .State.Health: podman 5.4 fails the bare
    // template with "nil pointer evaluating *define.HealthCheckResults.Status" (seen on the
    // booted node for lnd's wallet-init container), so guard it: no check = nothing to judge.
    const h = await env.adapter.run("podman", ["inspect", "--format", HEALTH_FORMAT, name]);
    const status = h.stdout.trim();
    if (h.code !== 0 || (status !== "" && status !== "healthy")) return { ok: false, evidence: `${name} health: ${status || h.stderr.trim()}` };
  }
  return { ok: true, evidence: `${services.length} services active and healthy` };
}

/** Probe until success or the deadline; returns the last evidence. */
export async function probeUntil(env: Env, cfg: OtaConfig, now: () => number = Date.now): Promise<ProbeResult> {
  const deadline = now() + cfg.window;
  let last: ProbeResult = { ok: false, evidence: "no probe ran" };
  for (let attempt = 1; ; attempt++) {
    // A probe started near the deadline still gets a fair timeout, so the evidence says what the server did.
    const timeout = Math.min(cfg.probe.request_timeout, Math.max(deadline - now(), 1000));
    last = await probeOnce(cfg.probe.url, cfg.probe.expect_status, timeout);
    if (last.ok && cfg.check_services) last = await servicesHealthy(env);
    env.log(`ota: probe ${attempt}: ${last.ok ? "ok" : "failed"}: ${last.evidence}`);
    if (last.ok || now() + cfg.retry_interval >= deadline) return last;
    await new Promise((r) => setTimeout(r, cfg.retry_interval));
  }
}

async function runRestore(env: Env, cfg: OtaConfig): Promise<boolean> {
  for (const argv of cfg.restore_commands) {
    env.log(`ota: restore: ${argv.join(" ")}`);
    const r = await env.adapter.run(argv[0]!, argv.slice(1), { timeoutMs: 300_000 });
    if (r.code !== 0) {
      env.log(`ota: restore command failed (exit ${r.code}): ${r.stderr.trim().split("\n")[0] ?? ""}; not running the rest`);
      return false;
    }
  }
  return true;
}

function markGood(env: Env, marker: Marker | undefined): void {
  rmSync(markerPath(env.root), { force: true });
  const cur = currentId(env.root);
  const meta = cur !== undefined ? readMeta(env.root, cur) : undefined;
  if (meta && !marker?.rolledBack) writeMeta(env.root, { ...meta, state: "good", note: marker ? `verified release ${marker.release}` : meta.note });
  let keep = DEFAULT_KEEP;
  try {
    keep = loadInputs(env.root).keep;
  } catch {
    /* no apply yet: default */
  }
  if (cur !== undefined) prune(env.root, keep, new Set([cur]));
}

export async function verify(env: Env, cfg: OtaConfig): Promise<VerifyOutcome> {
  const read = readMarker(env.root);
  if (read.kind === "none") {
    env.log("ota: no pending verification");
    return "ok";
  }
  let marker: Marker;
  if (read.kind === "corrupt") {
    // Unknown release state: treat as a failed verification, fall back to the default earlier generation.
    env.log(`ota: marker ${markerPath(env.root)} is ${read.why}: treating it as a failed verification`);
    marker = { release: "unknown (corrupt marker)", fallback: null, time: new Date().toISOString(), attempts: 0, rolledBack: false, evidence: read.why };
    return fallBack(env, cfg, marker, `corrupt marker: ${read.why}`, true);
  }
  marker = read.marker;
  marker.attempts++;
  writeMarker(env.root, marker);
  env.log(`ota: verifying release ${marker.release} (attempt ${marker.attempts}, window ${cfg.window / 1000} s)`);
  const result = await probeUntil(env, cfg);
  if (result.ok) {
    markGood(env, marker);
    // The release is good: images no kept generation references go (src/apply/images.ts).
    await cleanupQuietly(env);
    record(env.root, { release: marker.release, result: marker.rolledBack ? "healthy after rollback" : "good", evidence: result.evidence });
    env.log(marker.rolledBack ? `ota: healthy again after rollback of ${marker.release}` : `ota: release ${marker.release} verified good`);
    return marker.rolledBack ? "rolled-back" : "ok";
  }
  if (marker.rolledBack) {
    record(env.root, { release: marker.release, result: "manual intervention needed", evidence: result.evidence });
    env.log(`ota: still failing after a rollback (${result.evidence}): manual intervention needed; changing nothing more`);
    return "manual";
  }
  return fallBack(env, cfg, marker, result.evidence, false);
}

async function fallBack(env: Env, cfg: OtaConfig, marker: Marker, evidence: string, anyEarlier: boolean): Promise<VerifyOutcome> {
  const cur = currentId(env.root);
  const target = anyEarlier ? undefined : marker.fallback ?? undefined;
  const canSwitch = anyEarlier
    ? cur !== undefined && listGenerations(env.root).some((g) => g.id < cur && g.state !== "failed")
    : target !== undefined && target !== cur && readMeta(env.root, target) !== undefined;
  if (!canSwitch && cfg.restore_commands.length === 0) {
    writeMarker(env.root, { ...marker, rolledBack: true, evidence });
    record(env.root, { release: marker.release, result: "manual intervention needed", evidence: `${evidence}; nothing to roll back to` });
    env.log(`ota: release ${marker.release} failed (${evidence}) and there is nothing to roll back to: manual intervention needed`);
    return "manual";
  }
  // Arm the loop guard before touching anything: a crash from here on never rolls back twice.
  writeMarker(env.root, { ...marker, rolledBack: true, evidence });
  env.log(`ota: release ${marker.release} failed verification (${evidence}): rolling back`);
  let ok = true;
  if (canSwitch) {
    try {
      const r = await rollback(env, target, { markFailed: `release ${marker.release} failed verification: ${evidence}` });
      if (r.failures.length) ok = false;
    } catch (e) {
      env.log(`ota: rollback failed: ${(e as Error).message}`);
      ok = false;
    }
  } else env.log("ota: this release did not change the generation; only restore commands apply");
  if (!(await runRestore(env, cfg))) ok = false;
  const after = ok ? await probeUntil(env, cfg) : { ok: false, evidence: "rollback or restore failed" };
  record(env.root, { release: marker.release, result: after.ok ? "rolled back" : "manual intervention needed", evidence, after: after.evidence });
  if (after.ok) {
    rmSync(markerPath(env.root), { force: true });
    env.log(`ota: rolled back; healthy again (${after.evidence})`);
    return "rolled-back";
  }
  env.log(`ota: still failing after rollback (${after.evidence}): manual intervention needed; changing nothing more`);
  return "manual";
}
