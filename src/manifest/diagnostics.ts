// Compiler-style diagnostics: every user mistake is collected, never thrown,
// and printed as `file:line:col: error: path: message`.
import { Failure } from "../outcome.js";

export interface Diagnostic {
  file: string;
  line?: number;
  col?: number;
  path?: string;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line !== undefined ? `${visible(d.file)}:${d.line}:${d.col ?? 1}` : visible(d.file);
  return `${where}: error: ${d.path ? `${visible(d.path)}: ` : ""}${visible(d.message)}`;
}

// Keys, values and file names from a manifest end up in diagnostics. A line break
// there would forge diagnostic lines (CI logs read `::error` lines), a terminal
// escape would drive the reader's terminal, a bidi override would reorder the text.
const UNSAFE = /[\x00-\x1F\x7F-\x9F\u2028\u2029\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** Control, line-separator and bidi characters as \uXXXX escapes; everything else unchanged. */
export function visible(s: string): string {
  return s.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort(
    (a, b) => cmp(a.file, b.file) || (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0) || cmp(a.message, b.message),
  );
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Thrown only to carry diagnostics up to the CLI; never escapes as a stack trace. */
export class UserError extends Failure {
  constructor(readonly diagnostics: Diagnostic[]) {
    super("invalid", diagnostics.map(formatDiagnostic).join("\n"));
  }
}

/** Format a zod-style path: containers.web.ports[1] */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out;
}
