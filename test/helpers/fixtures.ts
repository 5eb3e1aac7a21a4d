// Fixture folders: good cases carry their expectations as YAML comments
// (podman-e2e style), bad cases an expected.txt of diagnostics.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { REPO } from "./quadlet.js";

export const GOOD = join(REPO, "test/fixtures/good");
export const BAD = join(REPO, "test/fixtures/bad");

export const fixtureNames = (root: string) => readdirSync(root).sort();

/** CLI arguments a fixture folder asks for: --select selection.yaml and the words of `args`. */
export function fixtureArgs(dir: string): string[] {
  const sel = existsSync(join(dir, "selection.yaml")) ? ["--select", "selection.yaml"] : [];
  const extra = existsSync(join(dir, "args")) ? readFileSync(join(dir, "args"), "utf8").trim().split(/\s+/).filter(Boolean) : [];
  return [...sel, ...extra];
}

export type Assertion =
  /** these consecutive words appear in the service's podman argv */
  | { kind: "argv"; service: string; words: string[]; where: string }
  /** the argv ends with these words (image, then exec args) */
  | { kind: "argv-end"; service: string; words: string[]; where: string }
  /** `[Section]` of the generated service has (or lacks) the line `Key=Value` */
  | { kind: "key" | "no-key"; service: string; section: string; line: string; where: string };

/**
 * `# assert-argv web: --network archy` (words split on spaces, or a JSON array
 * when a word has spaces), `# assert-argv-end web: image arg`,
 * `# assert-key web.service Unit After=db.service`, `# assert-no-key …`.
 */
export function readAssertions(dir: string): Assertion[] {
  const out: Assertion[] = [];
  const files = [...readdirSync(join(dir, "manifests")).filter((f) => f.endsWith(".yaml")).map((f) => `manifests/${f}`), "selection.yaml"];
  for (const f of files.sort()) {
    if (!existsSync(join(dir, f))) continue;
    readFileSync(join(dir, f), "utf8")
      .split("\n")
      .forEach((text, i) => {
        const m = /^#\s*assert-(argv|argv-end|key|no-key)\s+(.*)$/.exec(text);
        if (!m) return;
        const where = `${f}:${i + 1}`;
        const [, kind, rest] = m as unknown as [string, string, string];
        const svc = (s: string) => (s.endsWith(".service") ? s : `${s}.service`);
        if (kind === "argv" || kind === "argv-end") {
          const a = /^(\S+):\s+(.*)$/.exec(rest);
          if (!a) throw new Error(`${where}: expected "assert-${kind} <service>: <words>"`);
          const words = a[2]!.startsWith("[") ? (JSON.parse(a[2]!) as string[]) : a[2]!.split(/\s+/);
          out.push({ kind, service: svc(a[1]!), words, where });
        } else {
          const k = /^(\S+)\s+(\S+)\s+(\S.*)$/.exec(rest);
          if (!k) throw new Error(`${where}: expected "assert-${kind} <service> <Section> <Key=Value>"`);
          out.push({ kind: kind as "key" | "no-key", service: svc(k[1]!), section: k[2]!, line: k[3]!, where });
        }
      });
  }
  return out;
}

/** What podman must receive for one container, read straight from the manifest YAML (not through the compiler). */
export interface Expected {
  service: string;
  buildService?: string;
  image: string;
  env: [string, string][];
  command?: string[];
  entrypoint?: string[];
  health?: string[];
  buildArgs: [string, string][];
}

interface RawContainer {
  image?: string;
  build?: { args?: Record<string, string> };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  healthcheck?: { cmd: string | string[] };
}

export function manifestExpectations(dir: string): Expected[] {
  const selPath = join(dir, "selection.yaml");
  const selected = existsSync(selPath) ? new Set((parse(readFileSync(selPath, "utf8")) as { apps: string[] }).apps) : undefined;
  const out: Expected[] = [];
  for (const f of readdirSync(join(dir, "manifests")).filter((n) => n.endsWith(".yaml")).sort()) {
    const app = parse(readFileSync(join(dir, "manifests", f), "utf8")) as { id: string; kind: string; version: string; containers: Record<string, RawContainer> };
    if (selected && !selected.has(app.id)) continue;
    const keys = Object.keys(app.containers);
    for (const [key, c] of Object.entries(app.containers)) {
      // Naming rule of the format: archy- prefix for UIs, -key suffix for extra containers.
      const name = `${app.kind === "ui" ? "archy-" : ""}${app.id}${keys.length === 1 || key === app.id ? "" : `-${key}`}`;
      const h = c.healthcheck?.cmd;
      out.push({
        service: `${name}.service`,
        buildService: c.build ? `${name}-build.service` : undefined,
        image: c.image ?? `localhost/archy/${name}:${app.version}`,
        env: Object.entries(c.environment ?? {}),
        command: c.command,
        entrypoint: c.entrypoint,
        health: h === undefined ? undefined : typeof h === "string" ? ["CMD-SHELL", h] : ["CMD", ...h],
        buildArgs: Object.entries(c.build?.args ?? {}),
      });
    }
  }
  return out;
}
