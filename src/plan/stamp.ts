// The no-op fast path. A full check or generate that finds (or leaves) a tree
// up to date records a stamp: a fingerprint of every input plus the hash of
// every file it expects. Next time, if the inputs fingerprint the same and the
// tree still hashes the same, the answer is known without compiling (no zod,
// no YAML). Anything unusual — no stamp, a different program, a source run
// (tsx) — just means the full path runs. Loads only node: modules and paths.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { readTree } from "./tree.js";

export interface StampInputs {
  manifests: string;
  select?: string;
  podmanVersion?: string;
  secrets?: string;
}

export interface Stamp {
  fingerprint: string;
  files: [path: string, sha256: string, mode: number][];
}

// Set by scripts/build.mjs to a hash of every source the bundle was built from.
declare const __ARCHY_BUILD__: string;

/** The running program's identity: only the bundle has one, so source runs never trust a stamp. */
function programId(): string | undefined {
  return typeof __ARCHY_BUILD__ === "string" ? __ARCHY_BUILD__ : undefined;
}

function hashDir(h: ReturnType<typeof createHash>, dir: string, rel = ""): void {
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = statSync(join(dir, r));
    if (st.isDirectory()) hashDir(h, dir, r);
    else if (st.isFile()) h.update(`f\0${r}\0${st.mode & 0o777}\0${st.size}\0`).update(readFileSync(join(dir, r)));
  }
}

export function fingerprint(o: StampInputs): string | undefined {
  const program = programId();
  if (!program) return undefined;
  try {
    const h = createHash("sha256").update(`archy-quadlet stamp v1\0${program}\0${o.podmanVersion ?? ""}\0`);
    h.update("manifests\0");
    hashDir(h, resolve(o.manifests));
    if (o.select) h.update("\0select\0").update(readFileSync(o.select));
    if (o.secrets) {
      // Secret values only ever enter as part of a hash.
      h.update(`\0secrets\0${resolve(o.secrets)}\0${statSync(o.secrets).mode}\0`);
      hashDir(h, resolve(o.secrets));
    } else h.update("\0review secrets\0");
    return h.digest("hex");
  } catch {
    return undefined;
  }
}

function cacheFile(out: string): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "archy-quadlet", `check-${createHash("sha256").update(resolve(out)).digest("hex").slice(0, 24)}.json`);
}

function treeFiles(out: string): Stamp["files"] | undefined {
  const { files, symlinks } = readTree(out);
  if (symlinks.length > 0) return undefined;
  return [...files.values()].map((f) => [f.path, createHash("sha256").update(f.content).digest("hex"), f.mode]);
}

/** The number of files when the stamp proves the tree is exactly what these inputs generate; else undefined. */
export function upToDate(out: string, inputs: StampInputs): number | undefined {
  const fp = fingerprint(inputs);
  if (!fp) return undefined;
  let stamp: Stamp;
  try {
    stamp = JSON.parse(readFileSync(cacheFile(out), "utf8")) as Stamp;
  } catch {
    return undefined;
  }
  if (stamp.fingerprint !== fp) return undefined;
  const now = treeFiles(out);
  return now !== undefined && JSON.stringify(now) === JSON.stringify(stamp.files) ? now.length : undefined;
}

/** Record that `out` is up to date for these inputs. Best effort: a cache, never required. */
export function writeStamp(out: string, inputs: StampInputs): void {
  const fp = fingerprint(inputs);
  const files = fp ? treeFiles(out) : undefined;
  if (!fp || !files) return;
  const file = cacheFile(out);
  try {
    mkdirSync(join(file, ".."), { recursive: true, mode: 0o700 });
    writeFileSync(`${file}.tmp-${process.pid}`, JSON.stringify({ fingerprint: fp, files } satisfies Stamp), { mode: 0o600 });
    renameSync(`${file}.tmp-${process.pid}`, file);
  } catch {
    /* read-only home: no fast path, nothing else changes */
  }
}
