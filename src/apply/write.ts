// Writing a tree: every file via temp + rename with an explicit mode (the
// caller's umask never decides), never through a symlink we did not create.
import { chmodSync, closeSync, fsyncSync, lstatSync, mkdirSync, openSync, renameSync, rmSync, rmdirSync, writeSync, constants } from "node:fs";
import { dirname, join } from "node:path";
import type { Change } from "../plan/tree.js";
import { asBuffer } from "../plan/tree.js";

export class WriteError extends Error {}

/** Refuse if any existing component between root and path is a symlink. */
export function assertNoSymlink(root: string, rel: string): void {
  const parts = rel.split("/");
  let cur = root;
  for (const p of parts) {
    cur = join(cur, p);
    let st;
    try {
      st = lstatSync(cur);
    } catch {
      return; // does not exist yet: nothing to follow
    }
    if (st.isSymbolicLink()) throw new WriteError(`refusing to write through symlink ${cur} (archy-quadlet did not create it)`);
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

export function writeFileAtomic(abs: string, content: string | Uint8Array, mode: number, sync = false): void {
  const tmp = `${abs}.archy-tmp-${process.pid}`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
  try {
    writeSync(fd, asBuffer(content));
    if (sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, mode);
  renameSync(tmp, abs);
}

/** Apply a computed change list to root. All checks run before the first write. */
export function applyChanges(root: string, changes: Change[]): void {
  for (const c of changes) assertNoSymlink(root, c.path);
  for (const c of changes) {
    const abs = join(root, c.path);
    if (c.kind === "remove") {
      rmSync(abs, { force: true });
      pruneEmptyDirs(root, dirname(c.path));
    } else if (c.kind === "mode") {
      chmodSync(abs, c.want.mode);
    } else {
      ensureDir(root, dirname(c.path));
      writeFileAtomic(abs, c.want.content, c.want.mode);
    }
  }
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
