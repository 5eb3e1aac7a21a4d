// Safe updates against a real registry (issue 15), on the booted trixie node: Debian's
// docker-registry runs inside the guest on 127.0.0.1:5000 (the guest's own network
// namespace), the stand-in images are pushed there and the overlay names them by
// 127.0.0.1:5000/standin/…, so every image an apply needs has to be pulled.
//
// One boot, sequential scenarios (each starts where the previous one left the node):
//   setup  first apply pulls every image from the registry
//   a      adding an app restarts nothing that runs (container PIDs, MainPID, NRestarts)
//   b      an image update: the old container keeps its PID until the new image is local;
//          downtime (stop → healthy) with the image fetched first, against the old
//          behaviour (pull inside the restart), the registry reached at 50 Mbit/s
//          → artifacts/update-downtime.json
//   c      a tag the registry does not have: exit 3, nothing switched, PIDs unchanged
//   d      registry stopped: rollback succeeds (its images are still on disk)
//   e      after a good `ota verify` the superseded image is gone; the current, the rollback
//          and a hand-pulled foreign image remain
//   f      settings.min_free_disk above the free space: refused (exit 3), nothing switched
//   g      apply --fetch-only: the release's image is pulled, nothing switched or restarted
// Missing root, nspawn or debootstrap make this fail, never skip.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { shellQuote } from "./harness/machine.js";
import { apply as applyOn, ARTIFACTS, bootedGuest, catalogApp, MANIFESTS, stage, waitFor, type Release } from "./node-kit.js";
import { catalogIds, imageOnlyDiff, standinRef } from "./overlay.js";
import { publishStandins, type StandinOptions } from "./standins/images.js";

const REGISTRY = "127.0.0.1:5000";
const BASE = ["bitcoin-knots", "lnd", "electrumx"];
const ADDED = "btc-rpc-explorer";
const APPS = [...BASE, ADDED];
/** The app whose image the update scenarios change (one container, its own health check). */
const UPDATED = "electrumx";
/** Each update carries a layer of its own this big, so a pull transfers something. */
const PAD_MB = 64;
/** The line the registry is reached at while scenario b measures (a tc rate: a modest home line). */
const LINE = "50mbit";
const V2: StandinOptions = { variant: "u2", padMB: PAD_MB }; // fetched by apply before the switch
const V3: StandinOptions = { variant: "u3", padMB: PAD_MB }; // the old behaviour: pulled inside the restart
const V4: StandinOptions = { variant: "u4" }; // the OTA release of scenario e
const V5: StandinOptions = { variant: "u5" }; // refused before fetching (f), then pre-staged (g)
const GONE: StandinOptions = { variant: "never-pushed" };
const FOREIGN = `${REGISTRY}/foreign/busybox:1`;

const imageOf = (app: string, o?: StandinOptions) => standinRef(Object.values(catalogApp(app).containers)[0]!.image!, o, REGISTRY);
const V1_REF = imageOf(UPDATED);
const V2_REF = imageOf(UPDATED, V2);
const V3_REF = imageOf(UPDATED, V3);
const V4_REF = imageOf(UPDATED, V4);

const { machine } = bootedGuest("registry", {
  setup: (m) => m.writeFile("/usr/local/bin/archy-e2e-watch", WATCH, 0o755),
  moreArtifacts: async (m, dir) => {
    const r = await m.exec("podman images --digests; echo; journalctl -u docker-registry --no-pager | tail -100", { allowFail: true });
    writeFileSync(join(dir, "registry.txt"), r.stdout + r.stderr);
  },
});
const durations: Record<string, number> = {};
const figures: Record<string, unknown> = {};
const sh = async (cmd: string, timeoutMs = 180_000) => (await machine().exec(cmd, { timeoutMs })).stdout;
const shTry = (cmd: string, timeoutMs = 180_000) => machine().exec(cmd, { timeoutMs, allowFail: true });
const apply = (extra = "") => applyOn(machine(), extra, 600_000);
const out = (r: { code: number; stdout: string; stderr: string }) => `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;

const RECONCILE = "archy-quadlet-reconcile.path archy-quadlet-reconcile.timer";

/**
 * Stage a release (its images pushed to the registry, not kept on the node). The reconcile
 * units are stopped first: each scenario's own `apply` is the run under test, not a reconcile
 * that the staged files would trigger (it runs the same apply, but its output is the journal's).
 */
async function release(o: Partial<Release> = {}): Promise<string> {
  await shTry(`systemctl stop ${RECONCILE}`);
  return (await stage(machine(), { apps: APPS, ship: catalogIds(), registry: REGISTRY, ...o })).dir;
}

const exists = async (ref: string) => (await shTry(`podman image exists ${shellQuote(ref)}`)).code === 0;

/** Every running container: name → its PID (podman's .State.Pid). */
async function pids(): Promise<Record<string, number>> {
  const r = await sh(`podman ps -q | xargs -r podman inspect --format '{{.Name}} {{.State.Pid}}'`);
  return Object.fromEntries(r.trim().split("\n").filter(Boolean).map((l) => l.split(" ")).map(([n, p]) => [n!, Number(p)]));
}

/** systemd's view of the same containers: MainPID and NRestarts of each <name>.service. */
async function units(names: string[]): Promise<Record<string, string>> {
  const r = await sh(`systemctl show ${names.map((n) => `${n}.service`).join(" ")} -p Id -p MainPID -p NRestarts`);
  const res: Record<string, string> = {};
  for (const block of r.trim().split("\n\n")) {
    const kv = Object.fromEntries(block.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    res[kv.Id!] = `MainPID=${kv.MainPID} NRestarts=${kv.NRestarts}`;
  }
  return res;
}

async function snapshot(): Promise<{ pids: Record<string, number>; units: Record<string, string> }> {
  const p = await pids();
  return { pids: p, units: await units(Object.keys(p)) };
}

async function generations(): Promise<{ id: number; state: string; current: boolean }[]> {
  return JSON.parse(await sh("archy-quadlet generations --json")).generations;
}
const currentGen = async () => (await generations()).find((g) => g.current)?.id;

const containerImage = async (name: string) => (await sh(`podman inspect --format '{{.ImageName}}' ${name}`)).trim();
const healthy = async (name: string) => (await shTry(`podman healthcheck run ${name}`)).code === 0;
const allActive = async (names: string[]) => {
  for (const n of names) if ((await shTry(`systemctl is-active ${n}.service`)).stdout.trim() !== "active") return false;
  return true;
};

// Runs in the guest while a container is replaced: the times (ms, guest clock) when the new image
// became local (and whether the old process was still alive then), when the old container's process
// died, when a new one ran, and when its health check first passed.
const WATCH = String.raw`#!/bin/sh
name=$1 ref=$2 out=$3
now() { date +%s%3N; }
old=$(podman inspect --format '{{.State.Pid}}' "$name")
echo "start $(now) $old" >"$out.tmp"; mv "$out.tmp" "$out"
img= stop= run=
while :; do
  if [ -z "$img" ] && podman image exists "$ref"; then
    img=$(now); if [ -d "/proc/$old" ]; then a=alive; else a=gone; fi; echo "image $img $a" >>"$out"
  fi
  if [ -z "$stop" ] && [ ! -d "/proc/$old" ]; then stop=$(now); echo "stop $stop" >>"$out"; fi
  if [ -n "$stop" ] && [ -z "$run" ]; then
    p=$(podman inspect --format '{{.State.Pid}} {{.State.Status}}' "$name" 2>/dev/null)
    case "$p" in "$old "*|"0 "*|"") ;; *" running") run=$(now); echo "run $run $p" >>"$out" ;; esac
  fi
  if [ -n "$run" ] && podman healthcheck run "$name" >/dev/null 2>&1; then echo "healthy $(now)" >>"$out"; exit 0; fi
  sleep 0.1
done
`;

interface Watch {
  start: number;
  image?: number;
  oldAliveAtImage?: boolean;
  stop?: number;
  run?: number;
  healthy?: number;
}

let watches = 0;
/** Start the watcher (a transient unit in the guest); returns a function that waits for its result. */
async function watch(name: string, ref: string): Promise<() => Promise<Watch>> {
  const file = `/run/archy-e2e-watch-${++watches}`;
  await sh(`systemd-run -q --collect --unit=archy-e2e-watch-${watches} /usr/local/bin/archy-e2e-watch ${name} ${shellQuote(ref)} ${file}`);
  await waitFor("the watcher's first sample", async () => (await shTry(`test -s ${file}`)).code === 0, 30_000, 100);
  return async () => {
    await waitFor(`${name} healthy on ${ref}`, async () => /^healthy /m.test((await shTry(`cat ${file}`)).stdout), 600_000, 500);
    const w: Watch = { start: 0 };
    for (const l of (await sh(`cat ${file}`)).trim().split("\n")) {
      const [k, t, x] = l.split(" ");
      if (k === "start") w.start = Number(t);
      if (k === "image") (w.image = Number(t)), (w.oldAliveAtImage = x === "alive");
      if (k === "stop") w.stop = Number(t);
      if (k === "run") w.run = Number(t);
      if (k === "healthy") w.healthy = Number(t);
    }
    return w;
  };
}

let began = 0;
beforeEach(() => {
  began = Date.now();
});

afterEach((ctx) => {
  durations[`${ctx.task.name.split(".")[0]!} ${ctx.task.result?.state === "fail" ? "fail" : "pass"}`] = Math.round((Date.now() - began) / 1000);
});

afterAll(() => console.log(`[e2e] registry: per scenario (s): ${JSON.stringify(durations)}`));

describe("safe updates from a real registry on systemd 257 + podman 5.4", () => {
  it("setup. the guest's registry serves the stand-ins; the first apply pulls every image from it", async () => {
    await sh("systemctl start docker-registry");
    await waitFor("the registry answering on 127.0.0.1:5000", async () => (await shTry(`curl -sf http://${REGISTRY}/v2/`)).code === 0, 30_000, 200);
    // Its own loopback only: nothing listens on another address.
    expect(await sh("ss -Hltn 'sport = :5000'")).toMatch(/^LISTEN\s+\S+\s+\S+\s+127\.0\.0\.1:5000\s/);
    // A foreign image for scenario e: in the registry, not on the node.
    await machine().buildBusyboxImage();
    await sh(`podman tag localhost/archy-e2e-busybox:latest ${FOREIGN} && podman push -q ${FOREIGN} && podman rmi ${FOREIGN} localhost/archy-e2e-busybox:latest >/dev/null`);

    const dir = await release({ apps: BASE });
    expect(imageOnlyDiff(dir), "the overlay changes only image:").toEqual([]);
    expect(Number(await sh(`ls ${MANIFESTS}/*.yaml | wc -l`)), "the release ships the whole catalog").toBe(catalogIds().length);
    const refs = BASE.map((a) => imageOf(a));
    for (const ref of refs) expect(await exists(ref), `${ref} is not on the node before apply`).toBe(false);
    const r = await apply();
    expect(r.code, out(r)).toBe(0);
    await waitFor("all services active", () => allActive(BASE), 300_000);
    for (const ref of refs) expect(await exists(ref), `${ref} was pulled`).toBe(true);
    expect(await containerImage(UPDATED)).toBe(V1_REF);
    // The registry served them (its access log names the manifests podman fetched).
    const log = await sh("journalctl -u docker-registry --no-pager -o cat");
    for (const ref of refs) expect(log).toContain(`GET /v2/${ref.slice(REGISTRY.length + 1, ref.lastIndexOf(":"))}/manifests/${ref.slice(ref.lastIndexOf(":") + 1)} `);
  });

  it("a. adding an app leaves every running container's PID, MainPID and NRestarts unchanged", async () => {
    await waitFor(`${UPDATED} healthy`, () => healthy(UPDATED), 300_000, 2000);
    await release();
    expect(await exists(imageOf(ADDED))).toBe(false);
    const before = await snapshot();
    expect(Object.keys(before.pids).sort()).toEqual(expect.arrayContaining(["bitcoin-knots", "electrumx", "lnd"]));
    const r = await apply();
    expect(r.code, out(r)).toBe(0);
    await waitFor(`${ADDED} active`, () => allActive([ADDED]), 300_000);
    expect(await exists(imageOf(ADDED)), "the new app's image was pulled").toBe(true);
    await new Promise((res) => setTimeout(res, 5000)); // anything systemd would propagate has happened by now
    const after = await snapshot();
    const kept = Object.fromEntries(Object.keys(before.pids).map((n) => [n, after.pids[n]]));
    expect(kept, out(r)).toEqual(before.pids);
    expect(Object.fromEntries(Object.keys(before.units).map((u) => [u, after.units[u]])), out(r)).toEqual(before.units);
  });

  it("b. an image update: the old container runs until the new image is local; downtime with the image fetched first vs pulled inside the restart", async () => {
    await waitFor(`${UPDATED} healthy`, () => healthy(UPDATED), 300_000, 2000);
    // Both updates' images are pushed at full speed first: u2 (the release apply fetches) and
    // u3 (the old behaviour's, pulled inside the restart).
    await release({ standin: { [UPDATED]: V2 } });
    const upstream = Object.values(catalogApp(UPDATED).containers)[0]!.image!;
    expect(await publishStandins(machine(), [{ ref: V3_REF, upstream, options: V3, app: UPDATED }], REGISTRY)).toEqual([V3_REF]);
    const pullAlone = async () => {
      const tp = Date.now();
      await sh(`podman pull -q ${V3_REF} >/dev/null`, 600_000);
      const ms = Date.now() - tp;
      await sh(`podman rmi ${V3_REF} >/dev/null`);
      return ms;
    };
    const loopbackPullMs = await pullAlone();
    expect(await exists(V2_REF)).toBe(false);
    expect(await exists(V3_REF)).toBe(false);

    // From here on the registry is reached at LINE, as from a home line: a token bucket on the
    // guest's loopback, the registry's only path (the containers talk over the archy bridge).
    await sh(`tc qdisc add dev lo root tbf rate ${LINE} burst 256kb latency 100ms`);
    try {
      // --- with the image fetched by apply before the switch
      const others = Object.fromEntries(Object.entries(await pids()).filter(([n]) => n !== UPDATED));
      const done = await watch(UPDATED, V2_REF);
      const ta = Date.now();
      const r = await apply();
      const applyMs = Date.now() - ta;
      expect(r.code, out(r)).toBe(0);
      expect(r.stdout + r.stderr, "apply names the image it fetches").toContain(V2_REF);
      const w = await done();
      expect(await containerImage(UPDATED)).toBe(V2_REF);
      expect(w.image, "the new image became local").toBeDefined();
      expect(w.stop, "the old container stopped").toBeDefined();
      expect(w.oldAliveAtImage, "the old container still ran when its new image was local").toBe(true);
      expect(w.image!).toBeLessThanOrEqual(w.stop!);
      const otherAfter = await pids();
      expect(Object.fromEntries(Object.keys(others).map((n) => [n, otherAfter[n]])), "no other container restarted").toEqual(others);

      // --- the old behaviour: the unit names an image that is not local, and systemd's restart
      // pulls it inside ExecStart (what apply did before fetching): the same update, by hand.
      const unit = "/etc/containers/systemd/archy/electrumx.container";
      const saved = await sh(`cat ${unit}`);
      await shTry(`systemctl stop ${RECONCILE}`);
      await sh(`sed -i -e 's|^Image=.*|Image=${V3_REF}|' -e '/^Pull=/d' ${unit} && systemctl daemon-reload`);
      const doneOld = await watch(UPDATED, V3_REF);
      const restart = await shTry("systemctl restart electrumx.service", 600_000);
      expect(restart.code, out(restart)).toBe(0);
      const o = await doneOld();
      expect(await containerImage(UPDATED)).toBe(V3_REF);
      expect(o.oldAliveAtImage, "old behaviour: the image arrives after the stop").toBe(false);
      // Back to what apply installed (generation files untouched; the hand-pulled image goes).
      await machine().writeFile(unit, saved);
      await sh("systemctl daemon-reload && systemctl restart electrumx.service", 600_000);
      await waitFor(`${UPDATED} healthy on ${V2_REF}`, async () => (await containerImage(UPDATED)) === V2_REF && (await healthy(UPDATED)), 300_000, 1000);
      await sh(`podman rmi ${V3_REF} >/dev/null`);

      figures.app = UPDATED;
      figures.registry = `${REGISTRY}: Debian's docker-registry in the guest`;
      figures.line = `${LINE}/s during both updates (tc tbf on the guest's loopback, the registry's only path)`;
      figures.image_bytes = Number((await sh(`podman image inspect --format '{{.Size}}' ${V2_REF}`)).trim());
      figures.transferred = `the update's own ${PAD_MB} MB layer (random, incompressible) and its small layers; the base layer is shared with the images on disk`;
      figures.pull_alone_ms = { loopback: loopbackPullMs, [LINE]: await pullAlone() };
      figures.with_prefetch = {
        apply_ms: applyMs,
        // at least: the watcher notes the image once `podman image exists` returns
        image_local_before_stop_ms_min: w.stop! - w.image!,
        down_stop_to_running_ms: w.run! - w.stop!,
        down_stop_to_healthy_ms: w.healthy! - w.stop!,
      };
      figures.old_behaviour_pull_in_restart = {
        down_stop_to_running_ms: o.run! - o.stop!,
        down_stop_to_healthy_ms: o.healthy! - o.stop!,
      };
      figures.ratio_old_over_prefetch_healthy = Number(((o.healthy! - o.stop!) / Math.max(1, w.healthy! - w.stop!)).toFixed(2));
      figures.note = "down = the old container's process gone → the new one running / its own health check (podman healthcheck run, polled every ~0.1 s) first passing; times from a watcher in the guest";
    } finally {
      await shTry("tc qdisc del dev lo root");
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, "update-downtime.json"), JSON.stringify(figures, null, 2) + "\n");
    console.log(`[e2e] update downtime: ${JSON.stringify(figures, null, 2)}`);
  });

  it("c. a tag the registry does not have: exit 3 naming the image, nothing switched, PIDs unchanged", async () => {
    const gone = imageOf(UPDATED, GONE);
    await release({ standin: { [UPDATED]: GONE }, unpublished: [UPDATED] });
    expect((await shTry(`curl -sf -o /dev/null -I http://${REGISTRY}/v2/${gone.slice(REGISTRY.length + 1, gone.lastIndexOf(":"))}/manifests/${gone.slice(gone.lastIndexOf(":") + 1)}`)).code).not.toBe(0);
    const gens = await generations();
    const before = await snapshot();
    const r = await apply();
    expect(r.code, out(r)).toBe(3);
    expect(r.stdout + r.stderr).toContain(gone);
    expect(await generations()).toEqual(gens);
    expect(await containerImage(UPDATED)).toBe(V2_REF);
    const after = await snapshot();
    expect(after.pids).toEqual(before.pids);
    expect(after.units).toEqual(before.units);
  });

  it("d. registry stopped: rollback succeeds from the images on disk", async () => {
    const from = await currentGen();
    await sh("systemctl stop docker-registry");
    expect((await shTry(`curl -sf http://${REGISTRY}/v2/`)).code, "the registry is down").not.toBe(0);
    const r = await shTry("archy-quadlet rollback", 600_000);
    expect(r.code, out(r)).toBe(0);
    const to = await currentGen();
    expect(to).toBeLessThan(from!);
    await waitFor(`${UPDATED} back on ${V1_REF} and healthy`, async () => (await containerImage(UPDATED)) === V1_REF && (await healthy(UPDATED)), 300_000, 1000);
    await waitFor("all services active", () => allActive(APPS), 300_000);
    await sh("systemctl start docker-registry");
    await waitFor("the registry answering again", async () => (await shTry(`curl -sf http://${REGISTRY}/v2/`)).code === 0, 30_000, 200);
  });

  it("e. after a good ota verify the superseded image is gone; the current, the rollback and a foreign image remain", async () => {
    await sh(`podman pull -q ${FOREIGN} >/dev/null`);
    // Forward again to the u2 release (no OTA pending): generations ≥ the rollback's still name u1.
    await release({ standin: { [UPDATED]: V2 } });
    let r = await apply();
    expect(r.code, out(r)).toBe(0);
    await waitFor(`${UPDATED} healthy on ${V2_REF}`, async () => (await containerImage(UPDATED)) === V2_REF && (await healthy(UPDATED)), 300_000, 1000);
    expect(await exists(V1_REF), "u1 is still referenced by a kept generation").toBe(true);
    const rollbackTo = await currentGen();

    // An OTA release u4; the generation naming u1 falls out of the kept ones (--keep 3, the default).
    await sh(`printf 'probe: { url: "http://127.0.0.1:3002/", request_timeout: 2s }\\nwindow: 60s\\nretry_interval: 2s\\ncheck_services: true\\n' > /etc/archy-quadlet/ota.yaml`);
    await sh("archy-quadlet ota prepare --release e2e-u4");
    await release({ standin: { [UPDATED]: V4 } });
    r = await apply();
    expect(r.code, out(r)).toBe(0);
    await waitFor(`${UPDATED} healthy on ${V4_REF}`, async () => (await containerImage(UPDATED)) === V4_REF && (await healthy(UPDATED)), 300_000, 1000);
    await waitFor("all services active", () => allActive(APPS), 300_000);
    expect(await exists(V1_REF), "no cleanup while the OTA verification is pending").toBe(true);
    const v = await shTry("archy-quadlet ota verify", 300_000);
    expect(v.code, out(v)).toBe(0);
    const gens = await generations();
    expect(gens.find((g) => g.current)?.state).toBe("good");
    expect(gens.map((g) => g.id)).toContain(rollbackTo);

    expect(await exists(V1_REF), "the superseded image (no kept generation names it) is gone").toBe(false);
    expect(await exists(V4_REF), "the current image stays").toBe(true);
    expect(await exists(V2_REF), "the rollback generation's image stays").toBe(true);
    expect(await exists(FOREIGN), "a foreign image stays").toBe(true);
    for (const a of APPS.filter((x) => x !== UPDATED)) expect(await exists(imageOf(a)), a).toBe(true);
    expect(await containerImage(UPDATED)).toBe(V4_REF);
  });

  it("f. settings.min_free_disk above the free space: refused with exit 3 before fetching, nothing switched", async () => {
    await release({ standin: { [UPDATED]: V5 }, settings: { min_free_disk: "100T" } });
    const gens = await generations();
    const before = await snapshot();
    const r = await apply();
    expect(r.code, out(r)).toBe(3);
    expect(r.stdout + r.stderr).toMatch(/min_free_disk/);
    expect(await generations()).toEqual(gens);
    expect(await exists(imageOf(UPDATED, V5)), "nothing was fetched").toBe(false);
    const after = await snapshot();
    expect(after.pids).toEqual(before.pids);
    expect(after.units).toEqual(before.units);
  });

  it("g. apply --fetch-only pre-stages a release: its image is pulled, nothing is switched or restarted", async () => {
    const v5 = imageOf(UPDATED, V5);
    await release({ standin: { [UPDATED]: V5 } });
    expect(await exists(v5)).toBe(false);
    const gens = await generations();
    const before = await snapshot();
    const r = await apply("--fetch-only");
    expect(r.code, out(r)).toBe(0);
    expect(await exists(v5), "the release's image is local").toBe(true);
    expect(await generations()).toEqual(gens);
    expect(await containerImage(UPDATED)).toBe(V4_REF);
    const after = await snapshot();
    expect(after.pids).toEqual(before.pids);
    expect(after.units).toEqual(before.units);
  });
});
