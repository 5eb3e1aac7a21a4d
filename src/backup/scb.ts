// LND static channel backup copies: `archy-quadlet backup lnd-scb`, started by
// archy-quadlet-lnd-backup.path whenever lnd rewrites channel.backup. Each new
// content becomes one timestamped copy plus `latest.backup`, both written
// atomically (temp, fsync, rename, fsync of the directory) and read back against
// the source's sha256; the oldest copies beyond `keep` are removed. Only
// channel.backup is ever copied: channel.db must never be restored from a backup
// (an old channel state broadcast to a peer loses the channel's funds).
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { fsyncDir, writeFileAtomic } from "../atomic.js";

export const SCB_NAME = "channel.backup";
export const LATEST = "latest.backup";
const COPY = /^channel-(\d{8}T\d{6}\d{3}Z)\.backup$/;

export interface ScbResult {
  status: "copied" | "unchanged";
  source: string;
  copy: string;
  sha256: string;
  bytes: number;
  pruned: string[];
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:.]/g, "").replace(/^(\d{8}T\d{6})(\d{3})Z$/, "$1$2Z");
}

/** The timestamped copies in `dest`, oldest first. */
export function listCopies(dest: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dest);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  return names.filter((n) => COPY.test(n)).sort();
}

export function backupScb(o: { source: string; dest: string; keep: number; now?: Date }): ScbResult {
  if (basename(o.source) !== SCB_NAME) throw new Error(`refusing to copy ${o.source}: only lnd's ${SCB_NAME} is backed up (never channel.db)`);
  if (!Number.isInteger(o.keep) || o.keep < 1) throw new Error(`--keep must be a whole number of at least 1, got ${o.keep}`);
  const data = readFileSync(o.source);
  const sum = sha256(data);
  mkdirSync(o.dest, { recursive: true, mode: 0o700 });
  chmodSync(o.dest, 0o700);
  const latest = join(o.dest, LATEST);
  let prev: string | undefined;
  try {
    prev = sha256(readFileSync(latest));
  } catch {
    prev = undefined;
  }
  const copies = listCopies(o.dest);
  if (prev === sum && copies.length > 0) return { status: "unchanged", source: o.source, copy: join(o.dest, copies[copies.length - 1]!), sha256: sum, bytes: data.length, pruned: [] };

  let name = `channel-${stamp(o.now ?? new Date())}.backup`;
  // Two changes within one millisecond: never overwrite a copy.
  for (let i = 1; copies.includes(name); i++) name = `channel-${stamp(new Date((o.now ?? new Date()).getTime() + i))}.backup`;
  const copy = join(o.dest, name);
  for (const target of [copy, latest]) {
    writeFileAtomic(target, data, 0o600, { syncDir: false });
    const back = sha256(readFileSync(target));
    if (back !== sum) {
      rmSync(target, { force: true });
      throw new Error(`the copy ${target} does not read back as written (sha256 ${back}, expected ${sum}); is the backup disk failing?`);
    }
  }
  const all = listCopies(o.dest);
  const pruned = all.slice(0, Math.max(0, all.length - o.keep));
  for (const p of pruned) rmSync(join(o.dest, p), { force: true });
  fsyncDir(o.dest);
  return { status: "copied", source: o.source, copy, sha256: sum, bytes: data.length, pruned };
}

export interface ScbStatus {
  source: string;
  dest: string;
  sourceExists: boolean;
  newest: string | null;
  /** seconds since the newest copy was written */
  ageSeconds: number | null;
  /** lnd's file changed after the newest copy (or there is no copy of an existing file) */
  stale: boolean;
}

export function scbStatus(source: string, dest: string, now = Date.now()): ScbStatus {
  const src = statSync(source, { throwIfNoEntry: false });
  const copies = listCopies(dest);
  const newest = copies.length ? join(dest, copies[copies.length - 1]!) : null;
  const st = newest ? statSync(newest, { throwIfNoEntry: false }) : undefined;
  const ageSeconds = st ? Math.max(0, Math.round((now - st.mtimeMs) / 1000)) : null;
  const stale = src !== undefined && (st === undefined || src.mtimeMs > st.mtimeMs);
  return { source, dest, sourceExists: src !== undefined, newest, ageSeconds, stale };
}
