// Comparing an expected file list with a tree on disk, and the redaction every
// human-facing view of secret-bearing files goes through. Pure except readTree.
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cmp } from "../manifest/diagnostics.js";
import type { OutputFile } from "../lower/lower.js";
import { UNIT_DIR, CONFIG_ROOT, CONTAINERS_CONF_DROPIN, SYSTEM_UNIT_DIR } from "../lower/paths.js";

/** Directories archy-quadlet owns outright: anything in them it did not generate is stale. */
export const OWNED_DIRS = [UNIT_DIR, CONFIG_ROOT.slice(1)];
/** Single files it owns outside those directories. */
export const OWNED_FILES_PREFIX = [CONTAINERS_CONF_DROPIN, `${SYSTEM_UNIT_DIR}/archy-quadlet-`];

export interface DiskFile {
  path: string;
  content: Buffer;
  mode: number;
}

export type Change =
  | { kind: "add"; path: string; want: OutputFile }
  | { kind: "modify"; path: string; want: OutputFile; have: DiskFile }
  | { kind: "mode"; path: string; want: OutputFile; have: DiskFile }
  | { kind: "remove"; path: string; have: DiskFile };

export function isOwned(path: string): boolean {
  return OWNED_DIRS.some((d) => path.startsWith(`${d}/`)) || OWNED_FILES_PREFIX.some((p) => path.startsWith(p));
}

/** Read the owned part of a tree. Symlinks are reported, never followed. */
export function readTree(root: string): { files: Map<string, DiskFile>; symlinks: string[] } {
  const files = new Map<string, DiskFile>();
  const symlinks: string[] = [];
  const visit = (rel: string) => {
    let st;
    try {
      st = lstatSync(join(root, rel));
    } catch {
      return;
    }
    if (st.isSymbolicLink()) symlinks.push(rel);
    else if (st.isDirectory()) {
      for (const name of readdirSync(join(root, rel)).sort(cmp)) visit(`${rel}/${name}`);
    } else if (st.isFile() && isOwned(rel)) {
      files.set(rel, { path: rel, content: readFileSync(join(root, rel)), mode: st.mode & 0o7777 });
    }
  };
  for (const d of OWNED_DIRS) visit(d);
  for (const p of OWNED_FILES_PREFIX) {
    const dir = p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : ".";
    let names: string[] = [];
    try {
      names = readdirSync(join(root, dir));
    } catch {
      continue;
    }
    for (const name of names.sort(cmp)) if (`${dir}/${name}`.startsWith(p)) visit(`${dir}/${name}`);
  }
  return { files, symlinks };
}

const asBuffer = (c: string | Uint8Array) => (typeof c === "string" ? Buffer.from(c, "utf8") : Buffer.from(c));

export function compareTree(want: OutputFile[], have: Map<string, DiskFile>, opts: { modes: boolean }): Change[] {
  const changes: Change[] = [];
  const wanted = new Set<string>();
  for (const w of want) {
    wanted.add(w.path);
    const h = have.get(w.path);
    if (!h) changes.push({ kind: "add", path: w.path, want: w });
    else if (!asBuffer(w.content).equals(h.content)) changes.push({ kind: "modify", path: w.path, want: w, have: h });
    else if (opts.modes && h.mode !== w.mode) changes.push({ kind: "mode", path: w.path, want: w, have: h });
  }
  for (const [path, h] of have) if (!wanted.has(path)) changes.push({ kind: "remove", path, have: h });
  return changes.sort((a, b) => cmp(a.path, b.path));
}

export { asBuffer };

// Positions in our own templates where a credential sits, for files whose old
// content holds a secret we no longer know (after a rotation).
const SECRET_PATTERNS: [RegExp, string][] = [
  [/^(bitcoind\.rpcpass=).*$/gm, "$1***"],
  [/([a-z]+:\/\/[^:/@\s]*:)[^@\s]*@/g, "$1***@"],
  [/^([A-Z0-9_]*(?:PASS|PASSWORD|SECRET|TOKEN)[A-Z0-9_]*=).*$/gm, "$1***"],
  [/(Authorization "Basic )[^"]*"/g, '$1***"'],
];

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 8) out = out.split(s).join("***");
  for (const [re, rep] of SECRET_PATTERNS) out = out.replace(re, rep);
  return out;
}
