// The CLI's only contact with the terminal. Commands end a run by throwing a
// Failure of some kind; main() alone turns kinds into exit codes.
import { formatDiagnostic, sortDiagnostics, type Diagnostic } from "../manifest/diagnostics.js";
import { Failure } from "../outcome.js";

export function reportDiagnostics(diags: Diagnostic[]): never {
  const sorted = sortDiagnostics(diags);
  const text = sorted.map(formatDiagnostic).join("\n");
  throw new Failure("invalid", `${text}\n${sorted.length} error${sorted.length === 1 ? "" : "s"}; nothing written`);
}

export const out = (s: string) => process.stdout.write(s.endsWith("\n") || s === "" ? s : `${s}\n`);
export const err = (s: string) => process.stderr.write(s.endsWith("\n") ? s : `${s}\n`);
