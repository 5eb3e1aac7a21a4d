// The lock apply, rollback, reconcile and the OTA hooks serialize on: a
// listening unix socket in Linux's abstract namespace, named after the state
// dir. Binding a name is atomic in the kernel and the name is released when the
// socket's last descriptor closes — also when the holder is SIGKILLed or the
// machine loses power — so there is no lock file, no stale lock and no takeover
// to get wrong. (The file lock this replaces could let two waiters that read the
// same dead pid both "take over".) Holders and waiters must share a network
// namespace: every archy-quadlet process on a node runs in the host's.
import { createHash } from "node:crypto";
import { realpathSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { Failure } from "../outcome.js";

export class LockTimeout extends Failure {
  constructor(message: string) {
    super("locked", message);
  }
}

/** The lock's name for a state dir: NUL-prefixed (abstract namespace), from the dir's real path. */
export function lockName(stateDir: string): string {
  const id = createHash("sha256").update(realpathSync(stateDir)).digest("hex").slice(0, 32);
  return `\0archy-quadlet-lock-${id}`;
}

/** Bind the name: the server if we now hold the lock, undefined if someone else does. */
function tryBind(name: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    // A waiter that connects learns who holds the lock (for its message), nothing else.
    const server = createServer((c) => c.end(`${process.pid}\n`));
    server.once("error", (e: NodeJS.ErrnoException) => (e.code === "EADDRINUSE" ? resolve(undefined) : reject(e)));
    server.listen({ path: name }, () => {
      server.unref(); // holding the lock must not keep the process alive
      resolve(server);
    });
  });
}

/** Whether someone holds the lock on `stateDir` now (a dir that does not exist has no holder). */
export function lockHeld(stateDir: string): Promise<boolean> {
  let name: string;
  try {
    name = lockName(stateDir);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const c = connect({ path: name });
    c.on("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.on("error", () => resolve(false)); // ECONNREFUSED: nobody bound the name
  });
}

/** The holder's pid, if it says it within `waitMs`. */
function holderPid(name: string, waitMs = 1000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const c = connect({ path: name });
    let text = "";
    const done = (pid: number | undefined) => {
      clearTimeout(timer);
      c.destroy();
      resolve(pid);
    };
    // The holder answers from its event loop; one busy with synchronous work answers late.
    const timer = setTimeout(() => done(undefined), waitMs);
    c.on("data", (d) => {
      text += String(d);
      if (text.includes("\n")) done(/^\d+\n/.test(text) ? Number(text.trim()) : undefined);
    });
    c.on("end", () => done(undefined));
    c.on("error", () => done(undefined));
  });
}

/**
 * Take the lock on `stateDir`, waiting up to `timeoutMs` for a live holder (it
 * cannot be a dead one). Returns the release function. `onWait` is told once,
 * with the holder's pid when it answers.
 */
export async function acquireLock(stateDir: string, timeoutMs: number, onWait: (pid: number | undefined) => void, opts: { pollMs?: number } = {}): Promise<() => Promise<void>> {
  const name = lockName(stateDir);
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    const server = await tryBind(name);
    if (server) return () => new Promise<void>((resolve) => server.close(() => resolve()));
    if (Date.now() >= deadline) {
      const pid = await holderPid(name);
      throw new LockTimeout(`another archy-quadlet (${pid ? `pid ${pid}` : "a live process"}) holds the lock on ${stateDir}; gave up after ${Math.round(timeoutMs / 1000)} s`);
    }
    if (!told) {
      told = true;
      onWait(await holderPid(name));
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
  }
}
