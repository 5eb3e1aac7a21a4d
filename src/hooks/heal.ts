// Podman state self-heal: run `podman info`, classify a failure by its message,
// apply only the matching remedy, check again. Never `podman system reset`,
// never a bind-mounted data dir; a database is moved aside, never deleted.
import { existsSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { SystemAdapter } from "../apply/adapter.js";
import { currentId, readGeneration } from "../apply/state.js";
import { dependencyEdges, orderServices, serviceOf } from "../apply/plan.js";

export type RemedyId = "clear-runtime-dirs" | "renumber" | "reset-database" | "rebuild-lost-database" | "migrate-database";

/** Failure signatures, most specific first. Data, so a new field report is one line. */
export const SIGNATURES: { id: string; match: RegExp; remedy: RemedyId }[] = [
  { id: "boot-id-mismatch", match: /current system boot ID differs from cached boot ID/i, remedy: "clear-runtime-dirs" },
  { id: "lock-exhausted", match: /allocation failed; exceeded num_locks/i, remedy: "renumber" },
  { id: "lock-free-failed", match: /error freeing lock .*no such file or directory/i, remedy: "renumber" },
  { id: "sqlite-corrupt", match: /database disk image is malformed|scanning container state row|file is not a database/i, remedy: "reset-database" },
  { id: "bolt-corrupt", match: /invalid page type|not found in DB: no such container|bolt.*(invalid|corrupt)/i, remedy: "reset-database" },
  { id: "db-config-mismatch", match: /database configuration mismatch/i, remedy: "reset-database" },
];

export function classify(message: string): (typeof SIGNATURES)[number] | undefined {
  return SIGNATURES.find((s) => s.match.test(message));
}

export interface HealEnv {
  root: string;
  adapter: SystemAdapter;
  log: (line: string) => void;
  uid?: number;
  podmanVersion?: [number, number];
  now?: () => Date;
}

export interface HealReport {
  before: string;
  signature?: string;
  remedy?: RemedyId;
  actions: string[];
  after: string;
  healed: boolean;
}

const STORAGE = "var/lib/containers/storage";
const DATABASES = [`${STORAGE}/db.sql`, `${STORAGE}/libpod/bolt_state.db`];

function runtimeDirs(uid: number, message: string): string[] {
  // Prefer the directories podman itself names, but only ever below /run.
  const named = [...message.matchAll(/"(\/run\/[^"]+)"/g)].map((m) => m[1]!);
  if (named.length) return named.filter((d) => !d.includes(".."));
  return uid === 0 ? ["/run/containers/storage", "/run/libpod"] : ["containers", "libpod", "podman"].map((d) => `/run/user/${uid}/${d}`);
}

async function podmanInfo(env: HealEnv): Promise<{ ok: boolean; text: string }> {
  const r = await env.adapter.run("podman", ["info", "--format", "{{.Host.DatabaseBackend}}"], { timeoutMs: 60_000 });
  return { ok: r.code === 0, text: r.code === 0 ? `podman info ok (database: ${r.stdout.trim() || "unknown"})` : r.stderr.trim() || `podman info exited ${r.code}` };
}

/** No database file although podman has stored images or containers before: it was lost. */
function databaseLost(root: string): boolean {
  if (DATABASES.some((db) => existsSync(join(root, db)))) return false;
  const images = join(root, STORAGE, "overlay-images");
  try {
    return readdirSync(images).some((n) => n !== "images.lock");
  } catch {
    return false;
  }
}

/** Archy's container services of the active generation, in dependency order. */
function archyServices(root: string): string[] {
  const cur = currentId(root);
  if (cur === undefined) return [];
  const tree = readGeneration(root, cur);
  const svcs = [...tree.keys()].filter((p) => p.endsWith(".container")).map((p) => serviceOf(p)!);
  return orderServices(svcs, dependencyEdges([tree]));
}

export async function heal(env: HealEnv): Promise<HealReport> {
  const uid = env.uid ?? process.getuid?.() ?? 0;
  const actions: string[] = [];
  const act = (s: string) => {
    actions.push(s);
    env.log(`heal: ${s}`);
  };
  // Checked before `podman info`, which silently creates a fresh, empty database.
  const lost = databaseLost(env.root);
  const before = await podmanInfo(env);
  env.log(`heal: before: ${before.text.split("\n")[0]}`);

  let remedy: RemedyId | undefined;
  let signature: string | undefined;
  if (lost) {
    signature = "database-lost";
    remedy = "rebuild-lost-database";
  } else if (!before.ok) {
    const sig = classify(before.text);
    if (!sig) {
      env.log("heal: unknown failure: taking no action");
      return { before: before.text, actions, after: before.text, healed: false };
    }
    signature = sig.id;
    remedy = sig.remedy;
  } else if (before.text.includes("boltdb") && env.podmanVersion && (env.podmanVersion[0] > 5 || (env.podmanVersion[0] === 5 && env.podmanVersion[1] >= 8))) {
    signature = "boltdb-on-5.8";
    remedy = "migrate-database";
  } else {
    return { before: before.text, actions, after: before.text, healed: true };
  }
  env.log(`heal: ${signature}: remedy ${remedy}`);

  let ok = true;
  const run = async (cmd: string, args: string[]) => {
    act(`${cmd} ${args.join(" ")}`);
    const r = await env.adapter.run(cmd, args, { timeoutMs: 300_000 });
    if (r.code !== 0) {
      env.log(`heal: failed (exit ${r.code}): ${r.stderr.trim().split("\n")[0] ?? ""}; no further remedies`);
      ok = false;
    }
    return r.code === 0;
  };

  switch (remedy) {
    case "clear-runtime-dirs":
      for (const d of runtimeDirs(uid, before.text)) {
        if (!d.startsWith("/run/")) continue;
        act(`remove runtime dir ${d}`);
        rmSync(join(env.root, d), { recursive: true, force: true });
      }
      break;
    case "renumber":
      await run("podman", ["system", "renumber"]);
      break;
    case "rebuild-lost-database":
    case "reset-database": {
      // renumber needs podman otherwise idle: stop archy's services (dependents first), start them after.
      const services = archyServices(env.root);
      for (const svc of [...services].reverse()) if (!(await run("systemctl", ["stop", svc]))) break;
      if (!ok) break;
      const stamp = (env.now?.() ?? new Date()).toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
      for (const db of DATABASES) {
        const abs = join(env.root, db);
        if (!existsSync(abs)) continue;
        // Moved aside, never deleted: someone may want to recover from it.
        act(`move ${"/" + db} aside to ${"/" + db}.broken-${stamp}`);
        renameSync(abs, `${abs}.broken-${stamp}`);
        for (const side of readdirSync(join(abs, "..")).filter((n) => n.startsWith(`${db.split("/").pop()}-`) && /-(wal|shm)$/.test(n))) {
          renameSync(join(abs, "..", side), join(abs, "..", `${side}.broken-${stamp}`));
        }
      }
      if (!(await run("podman", ["system", "renumber"]))) break;
      // Quadlet containers are disposable (--rm --replace); their data lives on bind mounts.
      for (const svc of services) if (!(await run("systemctl", ["start", svc]))) break;
      break;
    }
    case "migrate-database":
      await run("podman", ["system", "migrate", "--migrate-db"]);
      break;
  }

  const after = ok ? await podmanInfo(env) : { ok: false, text: "remedy failed" };
  env.log(`heal: after: ${after.text.split("\n")[0]}`);
  return { before: before.text, signature, remedy, actions, after: after.text, healed: ok && after.ok };
}
