// The one way archy-quadlet writes a file — generated trees, generations, their
// meta, recorded inputs, the OTA marker, the secrets store: a temp file next to
// the target (or in `tmpDir`), written in full, fsynced, given its mode, renamed
// over the target, and the directory fsynced. A crash leaves the old file or the
// new one, never half of either, and a rename that returned survives power loss.
import { chmodSync, closeSync, constants, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { tick } from "./apply/fsops.js";

/** fsync a directory: makes the renames and creations inside it durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface AtomicOptions {
  /** Where the temp file goes (same file system as the target); default: the target's directory. */
  tmpDir?: string;
  /** false: the caller fsyncs the directory once after writing many files into it. */
  syncDir?: boolean;
}

export function writeFileAtomic(path: string, content: string | Uint8Array, mode: number, opts: AtomicOptions = {}): void {
  const tmp = join(opts.tmpDir ?? dirname(path), `.${basename(path)}.archy-tmp-${process.pid}`);
  rmSync(tmp, { force: true }); // left by a crashed process that had our pid
  // O_NOFOLLOW: never write through a symlink someone planted at the temp name.
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    const buf = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    // write(2) may write less than asked (a full disk, a file-size limit): go on until done or it fails.
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  chmodSync(tmp, mode); // the caller's umask never decides
  tick();
  renameSync(tmp, path);
  tick();
  if (opts.syncDir !== false) fsyncDir(dirname(path));
}
