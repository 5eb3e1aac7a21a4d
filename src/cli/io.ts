// The CLI's only contact with the terminal and exit codes.
import { formatDiagnostic, sortDiagnostics, type Diagnostic } from "../manifest/diagnostics.js";

export const EXIT = { ok: 0, drift: 1, invalid: 2, failed: 3, locked: 4 } as const;

/** Raised by command code to end the run with a code; main() turns it into process.exitCode. */
export class Exit extends Error {
  constructor(readonly code: number, message = "") {
    super(message);
  }
}

export function reportDiagnostics(diags: Diagnostic[]): never {
  const sorted = sortDiagnostics(diags);
  const text = sorted.map(formatDiagnostic).join("\n");
  throw new Exit(EXIT.invalid, `${text}\n${sorted.length} error${sorted.length === 1 ? "" : "s"}; nothing written`);
}

export const out = (s: string) => process.stdout.write(s.endsWith("\n") || s === "" ? s : `${s}\n`);
export const err = (s: string) => process.stderr.write(s.endsWith("\n") ? s : `${s}\n`);
