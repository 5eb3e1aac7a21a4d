// The whole catalog as shipped, on a real node (Debian trixie, systemd 257,
// Podman 5.4 under systemd-nspawn): manifests unchanged, only images swapped
// for stand-ins that honour each upstream image's contract (standins/).
// Every app of the catalog is selected across as few boots as the role
// conflicts allow (one bitcoin implementation and one electrum server at a
// time): boot A = bitcoin-knots + electrumx + every other app (regtest),
// boot B = bitcoin-core + electrs (+ its UI), then fulcrum in its place (mainnet).
// For every container: service active, container running, the stored health
// test equal to the manifest's intent word for word, a health check passing,
// and every RPC consumer authenticated against bitcoind's rpcauth.
import { readdirSync, readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import type { App } from "../../src/manifest/schema.js";
import { intendedHealthTest } from "../../src/lower/health.js";
import { podmanStoredHealthTest } from "../helpers/podman-health.js";
import { renderPage } from "./browser.js";
import { assertHostClean, boot, ensureRootfs, shellQuote, type Machine } from "./harness/machine.js";
import { apply, containersOf, installBundle, isActive, stage, waitFor } from "./node-kit.js";
import { CATALOG, imageOnlyDiff } from "./overlay.js";

const ARTIFACTS = join(import.meta.dirname, "artifacts");
const catalog = new Map<string, App>(
  readdirSync(CATALOG)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => [f.slice(0, -5), parse(readFileSync(join(CATALOG, f), "utf8")) as App]),
);
const BOOT_B_FIRST = ["bitcoin-core", "electrs", "electrs-ui"];
const BOOT_B_THEN = ["bitcoin-core", "fulcrum"];
const BOOT_A = [...catalog.keys()].filter((id) => !["bitcoin-core", "electrs", "electrs-ui", "fulcrum"].includes(id)).sort();

/** Apps whose manifest declares bitcoin_rpc: each gets an rpcauth user named after it. */
const rpcConsumers = (apps: string[]) => apps.filter((id) => catalog.get(id)!.bitcoin_rpc !== undefined);

const figures: Record<string, number> = {};
const machines: Machine[] = [];

afterAll(async () => {
  for (const m of machines) await m.poweroff().catch(() => {});
  for (const m of machines) await assertHostClean(m.name);
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, "catalog-start-times.json"), JSON.stringify(figures, null, 2));
  console.log(`[e2e] catalog start times (unit start → healthy, ms): ${JSON.stringify(figures)}`);
}, 600_000);

async function bootNode(): Promise<Machine> {
  expect(process.getuid?.(), "the end-to-end suite must run as root").toBe(0);
  await ensureRootfs();
  const m = await boot({});
  machines.push(m);
  await installBundle(m);
  return m;
}

async function onFailure<T>(m: Machine, label: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    console.error(`[e2e] ${label} failed: ${(e as Error).message.slice(0, 2000)}`);
    const dir = join(ARTIFACTS, `${m.name}-${label}`);
    await m.collectArtifacts(dir).catch(() => {});
    await m.exec(`for c in $(podman ps -a --format '{{.Names}}'); do echo "== $c"; podman logs --tail 30 $c 2>&1; done > /tmp/logs.txt; cat /tmp/logs.txt`, { allowFail: true }).then((r) => writeFileSync(join(dir, "container-logs.txt"), r.stdout)).catch(() => {});
    console.error(`[e2e] artifacts: ${dir}`);
    throw e;
  }
}

/** Bring a selection up and check every container of it. */
async function upAndCheck(m: Machine, apps: string[], settings: Record<string, unknown>): Promise<void> {
  const staged = await stage(m, { apps, settings });
  expect(imageOnlyDiff(staged.dir), "the overlay may change images only").toEqual([]);
  const a = await apply(m);
  expect(a.stderr + a.stdout, "apply").not.toMatch(/error/i);
  expect(a.code).toBe(0);
  const rows = containersOf(apps);
  await waitFor(
    "every service active",
    async () => {
      const out = (await m.exec(`systemctl is-active ${rows.map((r) => `${r.name}.service`).join(" ")}`, { allowFail: true })).stdout.trim().split("\n");
      // A service restart-looping: no point waiting for it; say why.
      const n = (await m.exec(`systemctl show -p NRestarts --value ${rows.map((r) => `${r.name}.service`).join(" ")}`)).stdout.trim().split("\n");
      const looping = rows.filter((_, i) => Number(n[i]) >= 3);
      if (looping.length) {
        const why = await m.exec(`journalctl --no-pager -o cat -n 8 ${looping.map((r) => `-u ${r.name}.service`).join(" ")} | grep -v '^[0-9a-f]\\{64\\}$'`, { allowFail: true });
        throw new Error(`restart loop: ${looping.map((r) => r.name).join(", ")}\n${why.stdout}`);
      }
      return out.every((s) => s === "active");
    },
    600_000,
    2000,
  ).catch(async (e) => {
    const states = await Promise.all(rows.map(async (r) => `${r.name}=${await isActive(m, `${r.name}.service`)}`));
    throw new Error(`${(e as Error).message}: ${states.join(" ")}`);
  });

  // A restart loop can look "active" for a moment: the container must exist and the unit not restart meanwhile.
  const restarts = async () => (await m.exec(`systemctl show -p NRestarts --value ${rows.map((r) => `${r.name}.service`).join(" ")}`)).stdout.trim().split("\n");
  const before = await restarts();
  await new Promise((r) => setTimeout(r, 15_000));
  const after = await restarts();
  expect(rows.filter((_, i) => before[i] !== after[i]).map((r) => r.name), "services restarting").toEqual([]);
  for (const r of rows) {
    const inspect = JSON.parse((await m.exec(`podman inspect ${r.name}`)).stdout)[0];
    expect(inspect.State.Running, `${r.name} running`).toBe(true);
    if (r.health === undefined) continue;
    // What podman stored, word for word, and what our model of podman predicted.
    expect(inspect.Config.Healthcheck.Test, `${r.name} health test`).toEqual(intendedHealthTest(r.health));
    const argv: string[] = inspect.Config.CreateCommand;
    expect(podmanStoredHealthTest(argv[argv.indexOf("--health-cmd") + 1]!), `${r.name} model`).toEqual(inspect.Config.Healthcheck.Test);
    await waitFor(`${r.name} health check`, async () => (await m.exec(`podman healthcheck run ${r.name}`, { allowFail: true })).code === 0, 180_000, 3000);
  }

  // Unit start → first passing health check (podman's health_status events), or → active
  // for containers without one. Monotonic unit timestamps are mapped to wall-clock time.
  const [nowUs, uptime] = (await m.exec("echo $(date +%s%6N) $(cut -d' ' -f1 /proc/uptime)")).stdout.trim().split(" ");
  const monoZeroUs = Number(nowUs) - Number(uptime) * 1e6;
  const events = (await m.exec("podman events --stream=false --filter event=health_status --format '{{json .}}'")).stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as { Name: string; HealthStatus: string; timeNano?: number; time: number });
  for (const r of rows) {
    const show = (await m.exec(`systemctl show -p InactiveExitTimestampMonotonic -p ActiveEnterTimestampMonotonic ${r.name}.service`)).stdout;
    const v = (k: string) => Number(new RegExp(`${k}=(\\d+)`).exec(show)![1]);
    const startUs = monoZeroUs + v("InactiveExitTimestampMonotonic");
    const healthy = events.filter((e) => e.Name === r.name && e.HealthStatus === "healthy").map((e) => (e.timeNano ? e.timeNano / 1e3 : e.time * 1e6)).filter((t) => t >= startUs - 1e6);
    figures[r.name] = Math.round(r.health !== undefined && healthy.length ? (Math.min(...healthy) - startUs) / 1e3 : (v("ActiveEnterTimestampMonotonic") - v("InactiveExitTimestampMonotonic")) / 1e3);
  }
}

/** Every RPC consumer authenticated against the bitcoind stand-in (it logs each user once). */
async function expectRpcAuth(m: Machine, bitcoind: string, apps: string[]): Promise<void> {
  const users = rpcConsumers(apps);
  expect(users.length).toBeGreaterThan(0);
  // A UI companion's nginx is the consumer, on behalf of whoever opens the page: call through it.
  for (const id of users.filter((u) => catalog.get(u)!.kind === "ui")) {
    const port = Object.values(catalog.get(id)!.containers)[0]!.ports![0]!.host;
    expect((await rpcViaUi(m, port, "getblockchaininfo")).status, `${id} via :${port}`).toBe(200);
  }
  await waitFor(
    "every RPC consumer authenticated",
    async () => {
      const log = (await m.exec(`podman logs ${bitcoind} 2>&1`)).stdout;
      return users.every((u) => log.includes(`rpc auth ok user=${u}\n`));
    },
    120_000,
    2000,
  ).catch(async (e) => {
    const log = (await m.exec(`podman logs ${bitcoind} 2>&1`)).stdout;
    throw new Error(`${(e as Error).message}: missing ${users.filter((u) => !log.includes(`rpc auth ok user=${u}\n`)).join(", ")}`);
  });
  expect((await m.exec(`podman logs ${bitcoind} 2>&1`)).stdout).not.toMatch(/rpc auth FAILED/);
}

/** JSON-RPC through a UI companion's nginx (which injects that UI's credential), from the node itself. */
async function rpcViaUi(m: Machine, port: number, method: string): Promise<{ status: number; body: string }> {
  const body = JSON.stringify({ jsonrpc: "1.0", id: "e2e", method, params: [] });
  const r = await m.exec(`busybox wget -S -q -O - --header 'content-type: application/json' --post-data ${shellQuote(body)} http://127.0.0.1:${port}/bitcoin-rpc/ 2>&1`, { allowFail: true });
  const status = Number(/HTTP\/1\.1 (\d+)/.exec(r.stdout)?.[1] ?? 0);
  return { status, body: r.stdout.slice(r.stdout.lastIndexOf("\n{") + 1) };
}

const inspect1 = async (m: Machine, name: string, fmt: string) => (await m.exec(`podman inspect ${name} --format ${shellQuote(fmt)}`)).stdout.trim();

/**
 * A provider's stop or restart reaches no dependent (Wants=, not Requires=: README):
 * with bitcoind stopped the UI keeps running and answers 502 for RPC, and since
 * nginx resolves upstream names per request (resolver + variable in proxy_pass) it
 * reaches bitcoind's new container without being restarted. (The UI itself does
 * not start while bitcoind is down: its ExecStartPre is-active gate fails and
 * Restart= retries.)
 */
async function uiFollowsBitcoind(m: Machine, bitcoind: string, ui: string, port: number): Promise<void> {
  const oldCid = await inspect1(m, bitcoind, "{{.Id}}");
  const uiId = await inspect1(m, ui, "{{.Id}}");
  await m.exec(`systemctl stop ${bitcoind}.service`);
  expect(await isActive(m, `${ui}.service`), "stopping bitcoind leaves the UI running").toBe("active");
  await waitFor("nginx answering", async () => (await rpcViaUi(m, port, "getblockchaininfo")).status >= 500, 60_000, 1000);
  expect((await rpcViaUi(m, port, "getblockchaininfo")).status).toBe(502);
  await m.exec(`systemctl start ${bitcoind}.service`, { timeoutMs: 300_000 });
  expect(await inspect1(m, bitcoind, "{{.Id}}"), "a new bitcoind container").not.toBe(oldCid);
  await waitFor("RPC through the UI to the new bitcoind", async () => (await rpcViaUi(m, port, "getblockchaininfo")).status === 200, 60_000, 2000);
  expect(await inspect1(m, ui, "{{.Id}}"), "the UI container was not replaced").toBe(uiId);
}

const SHOTS = join(ARTIFACTS, "screenshots");

/** The UI companions' pages in a real browser show what the stand-ins answer. */
async function expectUiPages(m: Machine, pages: { port: number; app: string; want: Record<string, RegExp> }[]): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  for (const p of pages) {
    const text = await renderPage(m, `http://127.0.0.1:${p.port}/`, join(SHOTS, `${p.app}.png`));
    for (const [id, re] of Object.entries(p.want)) expect(text.get(id) ?? "(missing)", `${p.app} #${id}`).toMatch(re);
  }
}

describe.concurrent("the shipped catalog on systemd 257 + podman 5.4", () => {
  it("boot A: bitcoin-knots, electrumx and every other app (regtest) come up healthy", async () => {
    const m = await bootNode();
    await onFailure(m, "boot-a", async () => {
      await upAndCheck(m, BOOT_A, { bitcoin_network: "regtest" });
      await expectRpcAuth(m, "bitcoin-knots", BOOT_A);
      for (const port of [8081, 8082]) {
        const r = await rpcViaUi(m, port, "getblockchaininfo");
        expect(r.status, r.body).toBe(200);
        expect(JSON.parse(r.body).result.chain).toBe("regtest");
        // The UI's credential is whitelisted to read-only calls.
        expect((await rpcViaUi(m, port, "stop")).status).toBe(403);
      }
      await expectUiPages(m, [
        { port: 8081, app: "bitcoin-ui", want: { chain: /regtest/, blocks: /120/, headers: /120/, peers: /8/, impl: /Knots/, error: /^$/ } },
        { port: 8082, app: "lnd-ui", want: { "lnd-state": /SERVER_ACTIVE|active/i, chain: /regtest/, blocks: /120/, error: /^$/ } },
      ]);
      await uiFollowsBitcoind(m, "bitcoin-knots", "archy-bitcoin-ui", 8081);
    });
  });

  it("boot B: bitcoin-core with electrs, then fulcrum in its place (mainnet)", async () => {
    const m = await bootNode();
    await onFailure(m, "boot-b", async () => {
      await upAndCheck(m, BOOT_B_FIRST, { bitcoin_network: "mainnet" });
      await expectRpcAuth(m, "bitcoin-core", BOOT_B_FIRST);
      await expectUiPages(m, [{ port: 8083, app: "electrs-ui", want: { "index-height": /120/, chain: /main/, blocks: /120/, error: /^$/ } }]);
      await upAndCheck(m, BOOT_B_THEN, { bitcoin_network: "mainnet" });
      await expectRpcAuth(m, "bitcoin-core", BOOT_B_THEN);
    });
  });
});
