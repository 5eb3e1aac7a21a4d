// generate / validate / check / diff / schema: the compiler's commands. They
// never load execa or apply code (start-up budget).
import { mkdirSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { compile, type CompileOptions } from "../plan/compile.js";
import { compareTree, readTree, redact, type Change } from "../plan/tree.js";
import { applyChanges, WriteError } from "../apply/write.js";
import { ReviewSecrets, SecretStore, type SecretSource } from "../configs/secrets.js";
import { parseVersion } from "../lower/versions.js";
import { EXIT, Exit, out, err, reportDiagnostics } from "./io.js";

export interface CommonOpts {
  manifests: string;
  select?: string;
  podmanVersion?: string;
  secrets?: string;
  json?: boolean;
}

export function secretSource(dir: string | undefined): SecretSource {
  return dir ? new SecretStore(resolve(dir)) : new ReviewSecrets();
}

export function compileOrExit(o: CommonOpts, secrets = secretSource(o.secrets)) {
  let podman;
  if (o.podmanVersion) {
    podman = parseVersion(o.podmanVersion);
    if (!podman) throw new Exit(EXIT.invalid, `--podman-version: expected X.Y, got "${o.podmanVersion}"`);
  }
  const opts: CompileOptions = { manifests: o.manifests, select: o.select, podman, secrets };
  const r = compile(opts);
  if (r.diagnostics.length > 0) {
    if (o.json) {
      out(JSON.stringify({ ok: false, diagnostics: r.diagnostics }, null, 2));
      throw new Exit(EXIT.invalid);
    }
    reportDiagnostics(r.diagnostics);
  }
  return { ...r, secrets };
}

export function validate(o: CommonOpts): void {
  const r = compileOrExit(o);
  const apps = r.graph!.apps.length;
  if (o.json) out(JSON.stringify({ ok: true, apps, containers: r.graph!.containers.length, files: r.files.length, diagnostics: [] }, null, 2));
  else out(`ok: ${apps} apps, ${r.graph!.containers.length} containers, ${r.files.length} files`);
}

function changesAgainst(o: CommonOpts, dir: string) {
  const r = compileOrExit(o);
  const { files, symlinks } = readTree(dir);
  return { r, changes: compareTree(r.files, files, { modes: r.secrets.real }), symlinks };
}

export function generate(o: CommonOpts & { out: string }): void {
  const { r, changes } = changesAgainst(o, o.out);
  try {
    mkdirSync(o.out, { recursive: true });
    const st = statSync(o.out);
    if (!st.isDirectory()) throw new Exit(EXIT.invalid, `--out ${o.out} is not a directory`);
    if (r.secrets instanceof SecretStore) r.secrets.persist();
    applyChanges(o.out, changes);
  } catch (e) {
    if (e instanceof Exit) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof WriteError) throw new Exit(EXIT.invalid, `error: ${e.message}`);
    if (code) throw new Exit(EXIT.failed, `error: cannot write ${o.out}: ${code} (${(e as Error).message.replace(/^[A-Z]+: /, "")})`);
    throw e;
  }
  const n = changes.length;
  out(`${o.out}: ${r.files.length} files, ${n === 0 ? "unchanged" : `${n} changed`}`);
}

export function describeChange(c: Change): string {
  switch (c.kind) {
    case "add":
      return `missing   ${c.path}`;
    case "modify":
      return `modified  ${c.path}`;
    case "mode":
      return `mode      ${c.path} (${c.have.mode.toString(8)} → ${c.want.mode.toString(8)})`;
    case "remove":
      return `unexpected ${c.path}`;
  }
}

export function check(o: CommonOpts & { out: string }): void {
  const { changes } = changesAgainst(o, o.out);
  if (o.json) {
    out(JSON.stringify({ ok: changes.length === 0, drift: changes.map((c) => ({ path: c.path, kind: c.kind })) }, null, 2));
  } else for (const c of changes) err(`drift: ${describeChange(c)}`);
  if (changes.length > 0) throw new Exit(EXIT.drift);
}

export async function diff(o: CommonOpts & { against: string; color?: boolean }): Promise<void> {
  const { r, changes } = changesAgainst(o, o.against);
  const secrets = r.secrets.values();
  const color = o.color ?? (process.stdout.isTTY && !process.env.NO_COLOR && !process.env.JOURNAL_STREAM);
  if (o.json) {
    out(JSON.stringify({ same: changes.length === 0, changes: changes.map((c) => ({ path: c.path, kind: c.kind, source: "want" in c ? c.want.source ?? null : null })) }, null, 2));
  } else if (changes.length > 0) {
    // Loaded here, not at the top: generate/check never need it (start-up budget).
    const { createTwoFilesPatch } = await import("diff");
    for (const c of changes) {
      const oldText = c.kind === "add" ? "" : redact(c.have.content.toString("utf8"), secrets);
      const newText = c.kind === "remove" ? "" : redact(String(typeof c.want.content === "string" ? c.want.content : Buffer.from(c.want.content).toString("utf8")), secrets);
      const source = "want" in c && c.want.source ? ` (from ${c.want.source})` : "";
      if (c.kind === "mode") {
        out(`mode ${c.path}: ${c.have.mode.toString(8)} → ${c.want.mode.toString(8)}`);
        continue;
      }
      if (c.kind === "modify" && oldText === newText) {
        // Only credentials differ (a rotation): an empty patch would hide that anything changed.
        out(`secret ${c.path}: only redacted credentials differ`);
        continue;
      }
      const patch = createTwoFilesPatch(c.kind === "add" ? "/dev/null" : `a/${c.path}`, c.kind === "remove" ? "/dev/null" : `b/${c.path}`, oldText, newText, undefined, source ? source.trim() : undefined);
      out(color ? colorize(patch) : patch);
    }
  }
  if (changes.length > 0) throw new Exit(EXIT.drift);
}

function colorize(patch: string): string {
  return patch
    .split("\n")
    .map((l) => (l.startsWith("+++") || l.startsWith("---") ? `\x1b[1m${l}\x1b[0m` : l.startsWith("+") ? `\x1b[32m${l}\x1b[0m` : l.startsWith("-") ? `\x1b[31m${l}\x1b[0m` : l.startsWith("@@") ? `\x1b[36m${l}\x1b[0m` : l))
    .join("\n");
}

export async function schema(): Promise<void> {
  const { manifestJsonSchema } = await import("../manifest/json-schema.js");
  out(JSON.stringify(manifestJsonSchema(), null, 2));
}
