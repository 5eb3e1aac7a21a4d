// Compiler-style diagnostics: every user mistake is collected, never thrown,
// and printed as `file:line:col: error: path: message`.
export interface Diagnostic {
  file: string;
  line?: number;
  col?: number;
  path?: string;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line !== undefined ? `${d.file}:${d.line}:${d.col ?? 1}` : d.file;
  return `${where}: error: ${d.path ? `${d.path}: ` : ""}${d.message}`;
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
export class UserError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join("\n"));
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
