// Where secrets come from. The real store lives on the node (0700 dir, 0600
// files, 256-bit CSPRNG values, never regenerated); the review set is fixed and
// obviously fake, so the committed out/ tree is identical on every machine.
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Diagnostic } from "../manifest/diagnostics.js";
import { fsyncDir, writeFileAtomic } from "../atomic.js";

export interface SecretSource {
  readonly real: boolean;
  readonly where: string;
  /** `password`: any printable ASCII (an adopted node's existing RPC password, docs/adopt.md), not only 64 hex. */
  get(name: string, diags: Diagnostic[], format?: "hex" | "password"): string | undefined;
  /** Every secret value handed out, for redaction. */
  values(): string[];
}

const VALUE = /^[0-9a-f]{64}$/;
const PASSWORD = /^[\x21-\x7e]{1,256}$/;

export class ReviewSecrets implements SecretSource {
  readonly real = false;
  readonly where = "review secrets (fixed, fake; never used by apply)";
  private readonly seen = new Map<string, string>();
  get(name: string): string {
    // Recognisable in review and impossible to mistake for CSPRNG output.
    const v = `review0nly${createHash("sha256").update(`archy-quadlet review secret ${name}`).digest("hex").slice(10)}`;
    this.seen.set(name, v);
    return v;
  }
  values(): string[] {
    return [...this.seen.values()];
  }
}

export class SecretStore implements SecretSource {
  readonly real = true;
  private readonly cache = new Map<string, string>();
  /** Created in memory during compile; written only by persist(). */
  private readonly pending = new Map<string, string>();
  private dirState: "ok" | "missing" | "bad" | undefined;

  constructor(readonly where: string) {}

  private checkDir(diags: Diagnostic[]): boolean {
    if (this.dirState === undefined) {
      try {
        // Secrets are read and written only through real directories: a symlink here (or
        // one level up) would send new secrets, or take old ones, from somewhere else.
        for (const p of [dirname(this.where), this.where]) {
          if (lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink()) {
            diags.push({ file: this.where, message: `${p === this.where ? "secrets directory" : `parent directory ${p}`} is a symlink; refusing to read or write secrets through it` });
            this.dirState = "bad";
            return false;
          }
        }
        const st = statSync(this.where);
        if (!st.isDirectory()) {
          diags.push({ file: this.where, message: "secrets path exists but is not a directory" });
          this.dirState = "bad";
        } else if (st.mode & 0o077) {
          diags.push({
            file: this.where,
            message: `secrets directory is accessible to group/others (mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}); refusing to use it — run: chmod 700 ${this.where}`,
          });
          this.dirState = "bad";
        } else this.dirState = "ok";
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") this.dirState = "missing";
        else {
          diags.push({ file: this.where, message: `cannot read secrets directory: ${(e as NodeJS.ErrnoException).code}` });
          this.dirState = "bad";
        }
      }
    }
    return this.dirState !== "bad";
  }

  get(name: string, diags: Diagnostic[], format: "hex" | "password" = "hex"): string | undefined {
    const hit = this.cache.get(name);
    if (hit) return hit;
    if (!this.checkDir(diags)) return undefined;
    const file = join(this.where, name);
    let value: string | undefined;
    if (this.dirState === "ok") {
      try {
        const st = lstatSync(file);
        if (st.isSymbolicLink() || !st.isFile()) {
          diags.push({ file, message: "secret file is not a regular file (a symlink?); refusing to read it" });
          return undefined;
        }
        if (st.mode & 0o077) {
          diags.push({ file, message: `secret file is readable by group/others (mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}); run: chmod 600 ${file}` });
          return undefined;
        }
        value = readFileSync(file, "utf8").trim();
        if (!(format === "password" ? PASSWORD : VALUE).test(value)) {
          const want = format === "password" ? "1-256 printable ASCII characters without spaces" : "64 lowercase hex characters";
          diags.push({ file, message: `secret file is empty or corrupt (expected ${want}); not rewriting it — restore it or remove it to create a new secret` });
          return undefined;
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
          diags.push({ file, message: `cannot read secret file: ${(e as NodeJS.ErrnoException).code}` });
          return undefined;
        }
      }
    }
    if (value === undefined) {
      value = randomBytes(32).toString("hex");
      this.pending.set(name, value);
    }
    this.cache.set(name, value);
    return value;
  }

  values(): string[] {
    return [...this.cache.values()];
  }

  /** Keep `value` as secret `name` unless the store already has one (adopt: an existing RPC password); written by persist(). */
  preset(name: string, value: string, diags: Diagnostic[]): boolean {
    if (this.get(name, diags, "password") !== undefined && !this.pending.has(name)) return false;
    this.pending.set(name, value);
    this.cache.set(name, value);
    return true;
  }

  hasPending(): boolean {
    return this.pending.size > 0;
  }

  /** Write secrets created during this run: 0600, O_EXCL so an existing one is never replaced. */
  persist(): void {
    if (this.pending.size === 0) return;
    // Explicit modes: the caller's umask decides nothing (000 would leave parents world-writable).
    const parent = dirname(this.where);
    const first = mkdirSync(parent, { recursive: true, mode: 0o755 });
    if (first !== undefined) for (let d = parent; d.length >= first.length; d = dirname(d)) chmodSync(d, 0o755);
    try {
      mkdirSync(this.where, { mode: 0o700 });
      chmodSync(this.where, 0o700);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    for (const [name, value] of [...this.pending].sort()) writeFileAtomic(join(this.where, name), `${value}\n`, 0o600, { syncDir: false });
    fsyncDir(this.where);
    this.pending.clear();
  }
}
