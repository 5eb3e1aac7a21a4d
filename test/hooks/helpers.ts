// Shared setup for hook tests: a temp root with generations A and B applied
// through the recording adapter (real quadlet for the preflight).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { RecordingAdapter, type RecordedCall, type RunResult } from "../../src/apply/adapter.js";
import { apply, type Env } from "../../src/apply/apply.js";

export const FIXTURES = join(import.meta.dirname, "fixtures");

// The real Podman 5.4 quadlet; missing is a hard failure, never a skip.
import { quadletBin } from "../helpers/quadlet.js";
export { quadletBin };

export function makeEnv(rules: ((c: RecordedCall) => RunResult | undefined)[] = []) {
  const root = mkdtempSync(join(tmpdir(), "archy-hooks-"));
  const adapter = new RecordingAdapter(rules, (c) => c.cmd.endsWith("/quadlet"));
  const lines: string[] = [];
  const env: Env = { root, adapter, log: (l) => lines.push(l), quadlet: quadletBin(), lockTimeoutMs: 5000, freeBytes: () => 2 ** 50 };
  return { root, adapter, lines, env, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export async function applyFixture(env: Env, name: "a" | "b") {
  return apply(env, { manifests: join(FIXTURES, name), secrets: join(env.root, "secrets"), keep: 3 });
}
