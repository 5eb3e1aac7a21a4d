// Writing a tree: every file with the one atomic write (src/atomic.ts) and an
// explicit mode (the caller's umask never decides), never through a symlink we
// did not create.
import { chmodSync, lstatSync, mkdirSync, rmSync, rmdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fsyncDir, writeFileAtomic } from "../atomic.js";
import { Failure } from "../outcome.js";
import type { Change } from "../plan/tree.js";

export class WriteError extends Failure {
  constructor(message: string) {
    super("failed", message);
  }
}

/**
 * Refuse if any existing component between root and path is a symlink.
 * `seen` (one per pre-check pass) remembers components already looked at, so
 * shared parent directories are lstat'ed once instead of once per file.
 */
export function assertNoSymlink(root: string, rel: string, seen?: Map<string, boolean>): void {
  const parts = rel.split("/");
  let cur = root;
  for (const p of parts) {
    cur = join(cur, p);
    const known = seen?.get(cur);
    if (known === false) return;
    if (known === true) continue;
    let st;
    try {
      st = lstatSync(cur, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (!st) {
      seen?.set(cur, false);
      return; // does not exist yet: nothing to follow
    }
    if (st.isSymbolicLink()) throw new WriteError(`refusing to write through symlink ${cur} (archy-quadlet did not create it)`);
    seen?.set(cur, true);
  }
}

export function ensureDir(root: string, relDir: string): void {
  let cur = root;
  for (const p of relDir.split("/").filter(Boolean)) {
    cur = join(cur, p);
    try {
      mkdirSync(cur, { mode: 0o755 });
      chmodSync(cur, 0o755);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
}

/** Apply a computed change list to root. All checks run before the first write. */
export function applyChanges(root: string, changes: Change[]): void {
  const checked = new Map<string, boolean>();
  for (const c of changes) assertNoSymlink(root, c.path, checked);
  // Directories already created or found in this run: a 1,000-app tree has
  // ~2,400 files in ~1,100 directories, and every repeated mkdir is a syscall
  // plus a thrown EEXIST. A directory written into is never pruned later in
  // the same (path-sorted) run, since it then holds that file.
  const ensured = new Set<string>();
  for (const c of changes) {
    const abs = join(root, c.path);
    if (c.kind === "remove") {
      rmSync(abs, { force: true });
      pruneEmptyDirs(root, dirname(c.path));
    } else if (c.kind === "mode") {
      chmodSync(abs, c.want.mode);
    } else {
      const dir = dirname(c.path);
      if (!ensured.has(dir)) {
        ensureDir(root, dir);
        ensured.add(dir);
      }
      writeFileAtomic(abs, c.want.content, c.want.mode, { syncDir: false });
    }
  }
  // Each directory written into is fsynced once, after all its files.
  for (const dir of ensured) fsyncDir(join(root, dir));
}

function pruneEmptyDirs(root: string, rel: string): void {
  while (rel && rel !== "." && rel.includes("/")) {
    try {
      rmdirSync(join(root, rel));
    } catch {
      return;
    }
    rel = dirname(rel);
  }
}
