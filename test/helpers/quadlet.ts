// The real quadlet generator (Podman 5.4) as a test oracle, run and read with
// the same code apply and explain use (src/unit/quadlet.ts, src/unit/exec.ts).
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { fileURLToPath } from "node:url";
import { dryRunEnv, quadletBin as resolveQuadlet, readDryRun, type DryRun } from "../../src/unit/quadlet.js";
import { execArgv } from "../../src/unit/exec.js";
import { unitValues } from "../../src/unit/unitfile.js";

export { splitExec } from "../../src/unit/exec.js";
export { unitValues } from "../../src/unit/unitfile.js";
export type { DryRun } from "../../src/unit/quadlet.js";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
// Tests default to the quadlet scripts/fetch-quadlet.sh extracts, not the host's.
process.env.QUADLET_BIN ||= `${REPO}.cache/quadlet/root/usr/libexec/podman/quadlet`;

/** Path of the quadlet binary; never skips: a missing binary fails the test. */
export function quadletBin(): string {
  const bin = resolveQuadlet();
  try {
    accessSync(bin, constants.X_OK);
    return bin;
  } catch {
    const how = "run scripts/fetch-quadlet.sh (it prints the path) or set QUADLET_BIN";
    if (process.env.CI === "true") {
      throw new Error(`quadlet not found at ${bin}; CI must provide it (these tests are never skipped): ${how}`);
    }
    throw new Error(`quadlet not found at ${bin}: ${how}`);
  }
}

/** `QUADLET_UNIT_DIRS=<dir> quadlet -dryrun`, synchronously: one call per generated tree. */
export function dryrun(unitDir: string): DryRun {
  const r = spawnSync(quadletBin(), ["-dryrun"], {
    env: dryRunEnv(unitDir, { PATH: process.env.PATH ?? "/usr/bin:/bin" }),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return readDryRun({ code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr });
}

/** x.container → x.service, x.build → x-build.service, x.network → x-network.service */
export function serviceOf(unitFile: string): string {
  const m = /^(.+)\.(container|build|network)$/.exec(unitFile);
  if (!m) throw new Error(`not a quadlet unit: ${unitFile}`);
  return m[2] === "container" ? `${m[1]}.service` : `${m[1]}-${m[2]}.service`;
}

/** Lines of stderr that report a problem (quadlet logs "Loading source unit file" otherwise). */
export function problems(stderr: string): string[] {
  return stderr.split("\n").filter((l) => /error|warning/i.test(l));
}

/**
 * The argv podman receives from a generated service: its one ExecStart= line read
 * with systemd's rules. A `%x` or `$VAR` systemd would expand, or a bare `;`,
 * throws: the compiler escaped badly.
 */
export function execStartArgv(serviceText: string): string[] {
  const lines = unitValues(serviceText, "Service", "ExecStart");
  if (lines.length !== 1) throw new Error(`expected one ExecStart= line, found ${lines.length}`);
  return execArgv(lines[0]!, "refuse");
}

/** Index where `needle` occurs as consecutive words in `argv`, or -1. */
export function indexOfWords(argv: readonly string[], needle: readonly string[]): number {
  outer: for (let i = 0; i + needle.length <= argv.length; i++) {
    for (let j = 0; j < needle.length; j++) if (argv[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
