// Running podman's quadlet generator in dry-run mode over a unit directory: the
// one way apply (preflight), explain and the tests do it.
import type { SystemAdapter } from "../apply/adapter.js";

export const DEFAULT_QUADLET = "/usr/libexec/podman/quadlet";

/** The quadlet binary: --quadlet, then $QUADLET_BIN, then the distribution path. */
export function quadletBin(flag?: string): string {
  return flag || process.env.QUADLET_BIN || DEFAULT_QUADLET;
}

export interface DryRun {
  code: number;
  stdout: string;
  stderr: string;
  /** service name (web.service, web-build.service, archy-network.service) → generated unit text */
  services: Map<string, string>;
  /** stderr lines that report an error (quadlet logs every file it loads otherwise), without the generator's log prefix */
  errors: string[];
}

/** The environment `quadlet -dryrun` reads unit files from (QUADLET_UNIT_DIRS) on top of `base`. */
export function dryRunEnv(unitDir: string, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return { ...(base as Record<string, string>), QUADLET_UNIT_DIRS: unitDir };
}

/** Parse what `quadlet -dryrun` printed: `---name.service---` blocks on stdout, problems on stderr. */
export function readDryRun(r: { code: number; stdout: string; stderr: string }): DryRun {
  const services = new Map<string, string>();
  let name: string | undefined;
  let lines: string[] = [];
  const flush = () => {
    if (name) services.set(name, lines.join("\n"));
  };
  for (const l of r.stdout.split("\n")) {
    const m = /^---(.+)---$/.exec(l);
    if (m) {
      flush();
      name = m[1]!;
      lines = [];
    } else lines.push(l);
  }
  flush();
  const errors = r.stderr
    .split("\n")
    .filter((l) => /error|converting/i.test(l))
    .map((l) => l.replace(/^quadlet-generator\[\d+\]: /, ""));
  return { ...r, services, errors };
}

/** `QUADLET_UNIT_DIRS=<unitDir> quadlet -dryrun` through the adapter. */
export async function quadletDryRun(adapter: SystemAdapter, bin: string, unitDir: string): Promise<DryRun> {
  const r = await adapter.run(bin, ["-dryrun"], { env: dryRunEnv(unitDir), timeoutMs: 60_000 });
  return readDryRun(r);
}
