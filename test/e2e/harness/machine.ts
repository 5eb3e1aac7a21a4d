// End-to-end harness: boot a real Debian trixie system (systemd 257, podman
// 5.4) with systemd-nspawn and run commands inside it.
//
//   const m = await boot();                 // fresh copy of the cached rootfs
//   await m.exec("systemctl --version");
//   await m.poweroff();                     // removes copy, cgroups, mounts
//   await assertHostClean(m.name);
//
// Design notes (why):
// - There is no machined on the host (PID 1 is not systemd), so nspawn runs
//   with --register=no --keep-unit inside cgroups we create ourselves; we enter
//   the guest with nsenter on its PID 1 and tear the cgroups down afterwards.
// - --private-network always: with the host network, netavark inside the
//   guest would write the host's nftables.
// - The cached rootfs is never booted directly; every boot gets its own copy
//   (or an overlayfs over it), deleted at poweroff.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, openSync, closeSync, writeFileSync, readdirSync, readFileSync } from "node:fs";
import { copyFile, mkdir, readFile, readdir, rmdir, stat, writeFile } from "node:fs/promises";
import { dirname, join, posix, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export interface ExecOptions {
  /** Data written to the command's stdin. */
  input?: string | Buffer;
  /** Kill the command after this long (default 120 s). */
  timeoutMs?: number;
  /** Resolve instead of throwing when the exit code is not 0. */
  allowFail?: boolean;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Machine {
  /** Machine name; also the name of its host cgroups. */
  readonly name: string;
  /** Host path of this run's root directory (a copy or overlay of the cache). */
  readonly rootfs: string;
  /** Host PID of the guest's PID 1 (systemd). */
  readonly leaderPid: number;
  /** ms from spawning nspawn to `is-system-running` returning (excludes rootfs prep). */
  readonly bootMs: number;
  /** Units that had failed when boot finished ("degraded"); normally empty. */
  readonly failedUnits: readonly string[];
  /** Run `cmd` with /bin/sh -c inside the guest (all namespaces, root). */
  exec(cmd: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Copy a host file or directory to guestPath (created or overwritten). */
  copyIn(hostPath: string, guestPath: string): Promise<void>;
  /** Write a file inside the guest, creating parent directories. */
  writeFile(guestPath: string, content: string | Buffer, mode?: number): Promise<void>;
  /** Build the local busybox test image (idempotent); returns its reference. */
  buildBusyboxImage(ref?: string): Promise<string>;
  /** Write console.log, journal.txt, podman-ps.txt, failed-units.txt into dir. */
  collectArtifacts(dir: string): Promise<void>;
  /** Clean shutdown, then remove the run's copy, cgroups and mounts. Idempotent. */
  poweroff(): Promise<void>;
  /**
   * Power-cycle on the same root (overlay upper dir / copy and container storage
   * kept): `systemctl reboot` in the guest, or with `hard` a power cut (every
   * process of the machine SIGKILLed at once via cgroup.kill, nspawn included),
   * then boot again. Returns the machine of the new boot; this object is dead.
   */
  reboot(opts?: RebootOptions): Promise<Machine>;
  /** Host path of a guest path on this run's root (for preparing files while it is down or up). */
  hostPath(guestPath: string): string;
  /** Date.now() when nspawn was spawned for this boot. */
  readonly startedAt: number;
}

export interface RebootOptions {
  /** Power cut instead of a clean reboot. */
  hard?: boolean;
  /** Extra systemd-nspawn arguments for the next boot (default: those of this boot). */
  nspawnArgs?: string[];
  /** Runs on the host while the machine is down, before it boots again. */
  whileDown?: () => Promise<void>;
  /** Limit for a clean reboot's shutdown (default 200 s: systemd waits for every stop job). */
  shutdownTimeoutMs?: number;
  /** Limit for boot up to `is-system-running` (default 120 s). */
  bootTimeoutMs?: number;
}

export interface BootOptions {
  /** Machine name, [a-z0-9-], default archy-e2e-<pid>-<n>. */
  name?: string;
  /** Rootfs to boot a copy of; default: ensureRootfs(). Never modified. */
  rootfs?: string;
  /**
   * true: overlayfs over the rootfs; false: full copy. Default: overlay, or a
   * copy if overlayfs can't be mounted.
   */
  overlay?: boolean;
  /** Limit for boot up to `is-system-running` (default 120 s). */
  bootTimeoutMs?: number;
  /** Extra systemd-nspawn arguments (e.g. --bind=/dev/loop-control). */
  nspawnArgs?: string[];
}

/** Reference of the image produced by Machine.buildBusyboxImage(). */
export const BUSYBOX_IMAGE = "localhost/archy-e2e-busybox:latest";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const ROOTFS_SH = join(REPO, "test/e2e/harness/rootfs.sh");
const RUNS_DIR = join(REPO, ".cache/e2e/runs");
const GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const NSPAWN_PROPAGATE = "/run/systemd/nspawn/propagate";

/** Quote a string for /bin/sh. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

/** Spawn a host program and collect its output (never throws on exit code). */
function run(
  file: string,
  args: readonly string[],
  opts: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((res, rej) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
          }, opts.timeoutMs);
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      res({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out), stderr: Buffer.concat(err), timedOut });
    });
    // The child may exit before reading stdin (EPIPE): that's its business.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

// ---------------------------------------------------------------------------
// rootfs

let rootfsPromise: Promise<string> | undefined;

/** Build (first time, ~1 min) or reuse the cached trixie rootfs; returns its path. */
export function ensureRootfs(dir?: string): Promise<string> {
  const build = async () => {
    // stderr is inherited so a cold build shows its progress.
    const child = spawn(ROOTFS_SH, dir ? [dir] : [], { stdio: ["ignore", "pipe", "inherit"] });
    const out: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    const code = await new Promise<number>((res, rej) => {
      child.on("error", rej);
      child.on("close", (c) => res(c ?? 1));
    });
    if (code !== 0) throw new Error(`rootfs.sh failed with exit code ${code}`);
    const path = Buffer.concat(out).toString().trim().split("\n").pop() ?? "";
    if (!path || !existsSync(path)) throw new Error(`rootfs.sh printed no rootfs path`);
    return path;
  };
  if (dir) return build();
  rootfsPromise ??= build().catch((e: unknown) => {
    rootfsPromise = undefined; // allow a retry
    throw e;
  });
  return rootfsPromise;
}

// ---------------------------------------------------------------------------
// cgroups

/**
 * Where our per-machine cgroups live. nspawn needs a cgroup2 hierarchy for the
 * guest (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1). On a pure cgroup2 host that is
 * /sys/fs/cgroup; on a hybrid host (like this CI machine) it is
 * /sys/fs/cgroup/unified, plus the named v1 "systemd" hierarchy nspawn also
 * places its processes in.
 */
function cgroupRoots(): string[] {
  if (existsSync("/sys/fs/cgroup/cgroup.controllers")) return ["/sys/fs/cgroup"];
  if (!existsSync("/sys/fs/cgroup/unified/cgroup.controllers")) {
    throw new Error("no cgroup2 hierarchy on the host (/sys/fs/cgroup or /sys/fs/cgroup/unified)");
  }
  const roots = ["/sys/fs/cgroup/unified"];
  if (existsSync("/sys/fs/cgroup/systemd/cgroup.procs")) roots.push("/sys/fs/cgroup/systemd");
  return roots;
}

const cgroupDirs = (name: string) => cgroupRoots().map((r) => join(r, name));

/** All directories below (and including) dir, deepest first. */
async function treeDepthFirst(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) out.push(...(await treeDepthFirst(join(dir, e.name))));
  }
  out.push(dir);
  return out;
}

async function cgroupPids(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const d of await treeDepthFirst(dir)) {
    const txt = await readFile(join(d, "cgroup.procs"), "utf8").catch(() => "");
    for (const l of txt.split("\n")) if (l.trim()) pids.push(Number(l));
  }
  return pids;
}

/** SIGKILL everything in the machine's cgroups and remove them. */
async function destroyCgroups(name: string): Promise<void> {
  for (const dir of cgroupDirs(name)) {
    if (!existsSync(dir)) continue;
    // cgroup.kill (cgroup2, Linux >= 5.14) kills the whole subtree atomically.
    await writeFile(join(dir, "cgroup.kill"), "1").catch(() => {});
    for (let i = 0; i < 100; i++) {
      const pids = await cgroupPids(dir);
      if (pids.length === 0) break;
      for (const p of pids) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
      await sleep(50);
    }
    for (const d of await treeDepthFirst(dir)) {
      // rmdir can briefly fail with EBUSY while the kernel reaps the last task.
      for (let i = 0; i < 50; i++) {
        try {
          await rmdir(d);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "ENOENT") break;
          await sleep(50);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// mounts and host state

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Host mount points at or below prefix, deepest first. */
async function mountsUnder(prefix: string): Promise<string[]> {
  const txt = await readFile("/proc/self/mountinfo", "utf8");
  return txt
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => m !== undefined)
    .map(unescapeMountinfo)
    .filter((m) => m === prefix || m.startsWith(prefix + "/"))
    .sort((a, b) => b.length - a.length);
}

interface HostSnapshot {
  links: string;
  nft: string | undefined;
  iptLegacy: string;
}

/** Host network state the guest must never touch. */
async function hostSnapshot(rootfs: string | undefined): Promise<HostSnapshot> {
  const links = await run("ip", ["-o", "link", "show"]);
  // Names only: counters/flags change on their own.
  const linkNames = links.stdout
    .toString()
    .split("\n")
    .map((l) => l.split(":")[1]?.trim().split("@")[0] ?? "")
    .filter(Boolean)
    .sort()
    .join(" ");
  // The host may lack nft (this one does): use the rootfs' nft in a chroot; it
  // reads the host's network namespace and writes nothing.
  let nft: string | undefined;
  const hostNft = await run("nft", ["list", "ruleset"]).catch(() => undefined);
  if (hostNft && hostNft.code === 0) nft = hostNft.stdout.toString();
  else if (rootfs && existsSync(join(rootfs, "usr/sbin/nft"))) {
    const r = await run("chroot", [rootfs, "/usr/sbin/nft", "list", "ruleset"]);
    if (r.code === 0) nft = r.stdout.toString();
  }
  const iptLegacy = await readFile("/proc/net/ip_tables_names", "utf8").catch(() => "");
  return { links: linkNames, nft, iptLegacy };
}

// ---------------------------------------------------------------------------
// boot / poweroff

interface Live {
  name: string;
  nspawn: ChildProcess;
}

/** Machines of this process still running, killed synchronously if we exit. */
const live = new Map<string, Live>();
const baselines = new Map<string, { snap: HostSnapshot; rootfs: string; runDir: string }>();
let counter = 0;
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if a test forgets poweroff or the worker dies: kill the guest
  // so nothing keeps running; leftover dirs/cgroups are reaped by the next boot.
  process.on("exit", () => {
    for (const m of live.values()) {
      for (const dir of cgroupDirs(m.name)) {
        try {
          writeFileSync(join(dir, "cgroup.kill"), "1");
        } catch {
          /* v1 hierarchy or gone */
        }
      }
      try {
        if (m.nspawn.pid) process.kill(m.nspawn.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Remove everything a (possibly crashed) run left: processes, cgroups, mounts, files. */
async function teardown(name: string, runDir: string): Promise<void> {
  await destroyCgroups(name);
  for (const m of await mountsUnder(runDir)) {
    const r = await run("umount", [m]);
    if (r.code !== 0) await run("umount", ["-l", m]);
  }
  // --one-file-system: never recurse into a mount that survived.
  await run("rm", ["-rf", "--one-file-system", runDir]);
  // nspawn leaves this behind when the host's /run is not a tmpfs.
  await run("rm", ["-rf", "--one-file-system", join(NSPAWN_PROPAGATE, name)]);
}

/** Tear down runs whose owning process is gone (crashed earlier test runs). */
async function reapStale(): Promise<void> {
  const entries = await readdir(RUNS_DIR).catch(() => [] as string[]);
  for (const name of entries) {
    if (live.has(name)) continue;
    const dir = join(RUNS_DIR, name);
    const owner = Number(await readFile(join(dir, "owner.pid"), "utf8").catch(() => "0"));
    if (owner > 0 && pidAlive(owner)) continue;
    // Another test file's worker (its own process) may have just created its run
    // dir and not yet written owner.pid: files start side by side, so a young dir
    // without an owner is a peer's boot in progress, not a crashed run.
    if (owner === 0 && Date.now() - ((await stat(dir).catch(() => undefined))?.mtimeMs ?? 0) < 120_000) continue;
    await teardown(name, dir);
  }
}

/** Parse /proc/self/limits, which exposes the hard limits without a shell. */
function hardLimit(field: "Max open files" | "Max processes"): string {
  const line = readFileSync("/proc/self/limits", "utf8")
    .split("\n")
    .find((l) => l.startsWith(field));
  const hard = line?.slice(field.length).trim().split(/\s+/)[1];
  if (!hard) throw new Error(`cannot read "${field}" from /proc/self/limits`);
  return hard === "unlimited" ? "-1" : hard;
}

/**
 * Sandbox adaptations for podman, computed per boot because the host limits
 * may differ between runs: the guest lacks CAP_SYS_RESOURCE, so containers may
 * not ask for more than the host's hard limits; and the guest's cgroup2 has no
 * pids controller, so podman must not set pids.max.
 */
function containersConf(): string {
  const n = hardLimit("Max open files");
  const u = hardLimit("Max processes");
  return [
    "# Written by test/e2e/harness/machine.ts at boot.",
    "[containers]",
    `default_ulimits = ["nofile=${n}:${n}", "nproc=${u}:${u}"]`,
    "pids_limit = 0",
    "",
  ].join("\n");
}

/** The guest's PID 1: nspawn's child whose PID in its own namespace is 1. */
async function findLeader(nspawnPid: number, deadline: number, gone: () => boolean): Promise<number> {
  while (Date.now() < deadline) {
    if (gone()) throw new Error("systemd-nspawn exited during boot");
    for (const e of readdirSync("/proc")) {
      if (!/^\d+$/.test(e)) continue;
      const status = await readFile(`/proc/${e}/status`, "utf8").catch(() => "");
      const ppid = /^PPid:\s+(\d+)$/m.exec(status)?.[1];
      const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/);
      if (Number(ppid) === nspawnPid && nspid && nspid.length > 1 && nspid[nspid.length - 1] === "1") {
        return Number(e);
      }
    }
    await sleep(20);
  }
  throw new Error("timed out waiting for the guest's PID 1");
}

/**
 * Give the run its own root at `root`; returns extra nspawn arguments. The
 * cached rootfs is only ever read.
 */
async function prepareRoot(
  base: string,
  runDir: string,
  root: string,
  name: string,
  wantOverlay: boolean | undefined,
): Promise<string[]> {
  const extra: string[] = [];
  // overlay (default): ~30 ms here. Copy: 1.3-6 s for ~300 MB on this disk
  // (reflinks would make it instant on btrfs/xfs). Without an explicit choice,
  // fall back to the copy where overlayfs can't be mounted.
  let overlay = wantOverlay !== false;
  if (overlay) {
    for (const d of ["upper", "work", "root", "containers"]) await mkdir(join(runDir, d));
    const o = `lowerdir=${base},upperdir=${join(runDir, "upper")},workdir=${join(runDir, "work")}`;
    const r = await run("mount", ["-t", "overlay", "overlay", "-o", o, root]);
    if (r.code !== 0) {
      if (wantOverlay) throw new Error(`overlay mount failed: ${r.stderr.toString()}`);
      overlay = false;
      await rmdir(root);
    }
  }
  if (overlay) {
    // podman's overlay driver refuses an overlayfs backing store, so its
    // storage gets a plain directory of this run bind-mounted instead.
    extra.push(`--bind=${join(runDir, "containers")}:/var/lib/containers`);
  } else {
    const r = await run("cp", ["-a", "--reflink=auto", base, root]);
    if (r.code !== 0) throw new Error(`copying the rootfs failed: ${r.stderr.toString()}`);
  }
  await mkdir(join(root, "etc/containers/containers.conf.d"), { recursive: true });
  await writeFile(join(root, "etc/containers/containers.conf.d/00-e2e-sandbox.conf"), containersConf());
  // systemd takes the hostname from /etc/hostname, not from nspawn's -M.
  await writeFile(join(root, "etc/hostname"), `${name}\n`);
  return extra;
}

/** Boot a fresh copy of the rootfs and wait until systemd finished booting. */
export async function boot(opts: BootOptions = {}): Promise<Machine> {
  if (process.getuid?.() !== 0) throw new Error("the e2e harness must run as root");
  const name = opts.name ?? `archy-e2e-${process.pid}-${++counter}`;
  if (!/^[a-z0-9][a-z0-9-]{0,50}$/.test(name)) throw new Error(`bad machine name ${JSON.stringify(name)}`);
  if (live.has(name)) throw new Error(`machine ${name} is already running`);
  const base = opts.rootfs ?? (await ensureRootfs());
  const bootTimeoutMs = opts.bootTimeoutMs ?? 120_000;
  installExitHook();
  await mkdir(RUNS_DIR, { recursive: true });
  await reapStale();

  const runDir = join(RUNS_DIR, name);
  // reapStale() removed dead runs, so an existing dir belongs to a live process.
  if (existsSync(runDir)) throw new Error(`machine ${name} is in use by another process (${runDir})`);
  await mkdir(runDir, { recursive: true });
  await writeFile(join(runDir, "owner.pid"), String(process.pid));
  baselines.set(name, { snap: await hostSnapshot(base), rootfs: base, runDir });

  const root = join(runDir, "root");
  const nspawnArgs = [
    "-b", "-D", root, "-M", name,
    "--register=no", "--keep-unit", "--console=read-only", "--private-network",
  ];
  try {
    nspawnArgs.push(...(await prepareRoot(base, runDir, root, name, opts.overlay)));
  } catch (e) {
    await teardown(name, runDir);
    throw e;
  }

  return start(name, runDir, root, nspawnArgs, opts.nspawnArgs ?? [], bootTimeoutMs);
}

/** Spawn nspawn on a prepared root and wait until systemd finished booting. */
async function start(name: string, runDir: string, root: string, nspawnArgs: string[], extraArgs: string[], bootTimeoutMs: number): Promise<Machine> {
  const consolePath = join(runDir, "console.log");
  const consoleFd = openSync(consolePath, "a");
  const t0 = Date.now();
  // The shell moves itself into fresh cgroups and then becomes nspawn, so the
  // guest and everything it spawns stay inside cgroups we can kill and remove.
  const script = 'set -e; for d in $ARCHY_CGROUPS; do mkdir -p "$d"; echo $$ > "$d/cgroup.procs"; done; exec systemd-nspawn "$@"';
  const nspawn = spawn("/bin/sh", ["-c", script, "sh", ...nspawnArgs, ...extraArgs], {
    stdio: ["ignore", consoleFd, consoleFd],
    env: {
      ...process.env,
      ARCHY_CGROUPS: cgroupDirs(name).join(" "),
      SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: "1",
      SYSTEMD_SECCOMP: "0", // podman/crun need syscalls nspawn's filter blocks
    },
  });
  closeSync(consoleFd);
  nspawn.unref(); // never keep the test process alive on its own
  const exited = new Promise<void>((res) => nspawn.on("exit", () => res()));
  const nspawnGone = () => nspawn.exitCode !== null || nspawn.signalCode !== null;
  live.set(name, { name, nspawn });

  let consoleText = "";
  const readConsole = async () =>
    (consoleText = await readFile(consolePath, "utf8").catch(() => consoleText));
  const fail = async (msg: string): Promise<never> => {
    const tail = (await readConsole()).split("\n").slice(-40).join("\n");
    await kill();
    throw new Error(`${msg}\n--- console (tail) ---\n${tail}`);
  };
  // Hard stop + cleanup; shared by failed boots and poweroff().
  const destroy = async () => {
    await readConsole();
    await destroyCgroups(name); // also kills nspawn itself: it runs in them
    if (!nspawnGone()) {
      nspawn.kill("SIGKILL");
      await exited;
    }
    live.delete(name);
    await teardown(name, runDir);
  };
  let down: Promise<void> | undefined;
  const kill = () => (down ??= destroy());

  const deadline = t0 + bootTimeoutMs;
  let leaderPid = 0;
  try {
    leaderPid = await findLeader(nspawn.pid ?? -1, deadline, nspawnGone);
  } catch (e) {
    await fail(`boot of ${name} failed: ${(e as Error).message}`);
  }

  let dead = false; // rebooted: a newer Machine object owns the name
  const exec = async (cmd: string, o: ExecOptions = {}): Promise<ExecResult> => {
    if (!live.has(name) || dead) throw new Error(`machine ${name} is not running (or was rebooted: use the Machine reboot() returned)`);
    const timeoutMs = o.timeoutMs ?? 120_000;
    // env -i: the host's environment must not leak into the guest. timeout(1)
    // runs inside the guest so a hung command is killed there, not just the
    // nsenter process on the host.
    const args = [
      "-t", String(leaderPid), "-a",
      "/usr/bin/env", "-i", `PATH=${GUEST_PATH}`, "HOME=/root", "LANG=C.UTF-8", "TERM=dumb",
      "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0",
      "/usr/bin/timeout", "-k", "5", `${Math.ceil(timeoutMs / 1000)}s`,
      "/bin/sh", "-c", cmd,
    ];
    const r = await run("nsenter", args, { input: o.input, timeoutMs: timeoutMs + 15_000 });
    const res = { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    if (res.code !== 0 && !o.allowFail) {
      const why = r.timedOut || res.code === 124 || res.code === 137 ? ` (timeout ${timeoutMs} ms?)` : "";
      throw new Error(
        `[${name}] command failed with exit code ${res.code}${why}: ${cmd}\n--- stdout ---\n${res.stdout}--- stderr ---\n${res.stderr}`,
      );
    }
    return res;
  };

  // systemctl needs the manager's private socket; it appears early in boot.
  while (!existsSync(`/proc/${leaderPid}/root/run/systemd/private`)) {
    if (Date.now() > deadline || !live.has(name)) await fail(`${name}: systemd never created /run/systemd/private`);
    if (nspawnGone()) await fail(`${name}: systemd-nspawn exited during boot`);
    await sleep(20);
  }
  const state = await exec("systemctl is-system-running --wait", {
    allowFail: true,
    timeoutMs: Math.max(1000, deadline - Date.now()),
  }).catch((e: Error) => fail(e.message));
  const stateWord = state.stdout.trim();
  const failed = await exec("systemctl list-units --failed --plain --no-legend", { allowFail: true }).catch(
    (e: Error) => fail(e.message),
  );
  const failedUnits = failed.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter(Boolean);
  if (stateWord !== "running" && stateWord !== "degraded") {
    await fail(`${name}: system state "${stateWord}" (failed units: ${failedUnits.join(", ") || "none"})`);
  }
  if (failedUnits.length) console.warn(`[${name}] booted degraded; failed units: ${failedUnits.join(", ")}`);
  const bootMs = Date.now() - t0;

  const guestWrite = async (guestPath: string, data: Buffer | string, mode: number) => {
    const p = shellQuote(guestPath);
    await exec(
      `mkdir -p "$(dirname ${p})" && cat > ${p} && chmod ${(mode & 0o7777).toString(8)} ${p}`,
      { input: data },
    );
  };

  const machine: Machine = {
    name,
    rootfs: root,
    leaderPid,
    bootMs,
    failedUnits,
    startedAt: t0,
    exec,
    hostPath(guestPath) {
      if (!posix.isAbsolute(guestPath)) throw new Error(`guest path must be absolute: ${guestPath}`);
      return join(root, guestPath);
    },
    async reboot(o: RebootOptions = {}) {
      if (dead || down) throw new Error(`machine ${name} is not running`);
      if (o.hard) {
        dead = true;
        // A power cut: everything of the machine dies at once, nothing is synced or unmounted.
        await destroyCgroups(name);
        if (!nspawnGone()) nspawn.kill("SIGKILL");
        await exited;
      } else {
        // Returns once the job is queued; nspawn exits when the guest reboots (it does not restart it).
        await exec("systemctl reboot", { allowFail: true, timeoutMs: 30_000 }).catch(() => {});
        dead = true;
        let timer: NodeJS.Timeout | undefined;
        const limit = o.shutdownTimeoutMs ?? 200_000;
        const clean = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), limit)))]);
        clearTimeout(timer);
        if (!clean) {
          await kill(); // leave nothing behind on the host
          throw new Error(`[${name}] did not go down within ${limit / 1000} s of systemctl reboot`);
        }
        await destroyCgroups(name); // nothing should be left; the next boot makes fresh ones
      }
      live.delete(name);
      // nspawn leaves this behind when the host's /run is not a tmpfs.
      await run("rm", ["-rf", "--one-file-system", join(NSPAWN_PROPAGATE, name)]);
      if (o.whileDown) await o.whileDown();
      return start(name, runDir, root, nspawnArgs, o.nspawnArgs ?? extraArgs, o.bootTimeoutMs ?? bootTimeoutMs);
    },
    async writeFile(guestPath, content, mode = 0o644) {
      if (!posix.isAbsolute(guestPath)) throw new Error(`guest path must be absolute: ${guestPath}`);
      await guestWrite(guestPath, content, mode);
    },
    async copyIn(hostPath, guestPath) {
      if (!posix.isAbsolute(guestPath)) throw new Error(`guest path must be absolute: ${guestPath}`);
      const st = await stat(hostPath);
      if (st.isDirectory()) {
        // Stream through tar so absolute symlinks in the guest resolve inside it.
        const tar = await run("tar", ["-C", hostPath, "-cf", "-", "."]);
        if (tar.code !== 0) throw new Error(`tar of ${hostPath} failed: ${tar.stderr.toString()}`);
        const p = shellQuote(guestPath);
        await exec(`mkdir -p ${p} && tar -C ${p} -xf -`, { input: tar.stdout });
      } else {
        await guestWrite(guestPath, await readFile(hostPath), st.mode);
      }
    },
    async buildBusyboxImage(ref = BUSYBOX_IMAGE) {
      return (await exec(`archy-e2e-image ${shellQuote(ref)}`)).stdout.trim();
    },
    async collectArtifacts(dir) {
      await mkdir(dir, { recursive: true });
      if (existsSync(consolePath)) await copyFile(consolePath, join(dir, "console.log"));
      else await writeFile(join(dir, "console.log"), consoleText);
      if (!live.has(name)) return; // powered off: only the console log is left
      const dump = async (file: string, cmd: string) => {
        const r = await exec(cmd, { allowFail: true, timeoutMs: 30_000 }).catch((e: Error) => ({
          code: -1,
          stdout: "",
          stderr: e.message,
        }));
        await writeFile(join(dir, file), r.stdout + (r.stderr ? `\n--- stderr (exit ${r.code}) ---\n${r.stderr}` : ""));
      };
      await dump("journal.txt", "journalctl -b --no-pager -o short-monotonic");
      await dump("podman-ps.txt", "podman ps -a");
      await dump("failed-units.txt", "systemctl list-units --failed --no-pager");
    },
    poweroff() {
      if (dead) return Promise.resolve(); // rebooted: the newer Machine powers off
      return (down ??= (async () => {
        if (!nspawnGone()) {
          // Returns once the job is queued; the guest may die under nsenter.
          await exec("systemctl poweroff", { allowFail: true, timeoutMs: 30_000 }).catch(() => {});
          let timer: NodeJS.Timeout | undefined;
          const clean = await Promise.race([
            exited.then(() => true),
            new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 60_000))),
          ]);
          clearTimeout(timer);
          if (!clean) console.warn(`[${name}] did not power off within 60 s; killing it`);
        }
        await destroy();
      })());
    },
  };
  return machine;
}

// ---------------------------------------------------------------------------
// host hygiene

/**
 * Throw unless machine `name` left nothing on the host: no process in or
 * rooted under it, no cgroup, no mount, no run directory, and the host's
 * network links and nftables/iptables rules are as they were before boot.
 */
export async function assertHostClean(name: string): Promise<void> {
  const problems: string[] = [];
  const base = baselines.get(name);
  const runDir = base?.runDir ?? join(RUNS_DIR, name);
  if (live.has(name)) problems.push("machine is still running (no poweroff)");

  for (const dir of cgroupDirs(name)) {
    if (existsSync(dir)) problems.push(`cgroup ${dir} exists (pids: ${(await cgroupPids(dir)).join(",") || "none"})`);
  }
  for (const e of await readdir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const cg = await readFile(`/proc/${e}/cgroup`, "utf8").catch(() => "");
    if (cg.split("\n").some((l) => l.split(":")[2]?.split("/")[1] === name)) {
      problems.push(`process ${e} is in a cgroup of ${name}`);
    }
    const cmdline = await readFile(`/proc/${e}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(runDir)) problems.push(`process ${e} references ${runDir}: ${cmdline.replace(/\0/g, " ")}`);
  }
  for (const m of await mountsUnder(runDir)) problems.push(`mount ${m} still present`);
  for (const m of await mountsUnder(join(NSPAWN_PROPAGATE, name))) problems.push(`mount ${m} still present`);
  if (existsSync(runDir)) problems.push(`run directory ${runDir} still exists`);
  if (existsSync(join(NSPAWN_PROPAGATE, name))) problems.push(`${join(NSPAWN_PROPAGATE, name)} still exists`);

  const now = await hostSnapshot(base?.rootfs ?? join(REPO, ".cache/e2e/rootfs"));
  if (now.nft !== undefined && /table \S+ (netavark|podman)/.test(now.nft)) {
    problems.push(`host nftables has netavark/podman tables:\n${now.nft}`);
  }
  if (base) {
    if (now.links !== base.snap.links) problems.push(`host links changed: "${base.snap.links}" -> "${now.links}"`);
    if (now.nft !== base.snap.nft) problems.push(`host nftables ruleset changed:\n${now.nft ?? "(unreadable)"}`);
    if (now.iptLegacy !== base.snap.iptLegacy) problems.push(`host iptables tables changed: ${now.iptLegacy}`);
  } else if (/\b(podman\d+|ve-\S+)\b/.test(now.links)) {
    problems.push(`host has podman/nspawn links: ${now.links}`);
  }
  if (problems.length) throw new Error(`host not clean after ${name}:\n - ${problems.join("\n - ")}`);
}
