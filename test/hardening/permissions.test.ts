// Permissions, whatever the caller's umask (000 and 077): every tree that
// `generate --secrets` and `apply --root` write is walked. Units and configs are
// 0644, directories 0755, secret-bearing files 0600, the secrets store 0700 with
// 0600 files; nothing is group/world-writable; and no secret value appears in a
// world-readable file, in the output of generate/diff/check/apply, or in a diff.
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../src/plan/inputs.js";
import { ReviewSecrets } from "../../src/configs/secrets.js";
import { STATE_REL } from "../../src/apply/state.js";
import { CATALOG, CLI, quadletBin } from "../apply/helpers.js";
import { scratch } from "./helpers.js";

const root = scratch("archy-perms-");
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => join(root, `${name}-${++n}`);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI in a subprocess under a umask, with the recording adapter for systemctl/podman. */
function run(args: string[], umask: string, log?: string): Run {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = `umask ${umask} && exec ${[process.execPath, ...CLI.argv, ...args].map(q).join(" ")}`;
  const env: Record<string, string> = { ...(process.env as Record<string, string>), QUADLET_BIN: quadletBin(), NO_COLOR: "1" };
  if (log) env.ARCHY_QUADLET_ADAPTER = `record:${log}`;
  const r = spawnSync("/bin/sh", ["-c", cmd], { env, encoding: "utf8", timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

interface Node {
  path: string;
  kind: "file" | "dir" | "link";
  mode: number;
  content?: Buffer;
}

function walk(base: string): Node[] {
  const out: Node[] = [];
  const visit = (rel: string) => {
    for (const name of readdirSync(rel ? join(base, rel) : base).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(base, r));
      const mode = st.mode & 0o7777;
      if (st.isSymbolicLink()) out.push({ path: r, kind: "link", mode });
      else if (st.isDirectory()) {
        out.push({ path: r, kind: "dir", mode });
        visit(r);
      } else out.push({ path: r, kind: "file", mode, content: readFileSync(join(base, r)) });
    }
  };
  visit("");
  return out;
}

const octal = (m: number) => m.toString(8).padStart(4, "0");

/** Paths (relative to a generated tree) that carry secrets, from the compiler's own plan. */
const SECRET_PATHS = new Set(compile({ manifests: CATALOG, secrets: new ReviewSecrets() }).files.filter((f) => f.secret).map((f) => f.path));

/** Every form a secret takes in a generated file: the value, and nginx's base64 of "<app id>:<value>". */
function secretForms(secretsDir: string): string[] {
  const forms: string[] = [];
  for (const name of readdirSync(secretsDir)) {
    const v = readFileSync(join(secretsDir, name), "utf8").trim();
    forms.push(v, Buffer.from(`${name.replace(/^rpc-/, "")}:${v}`).toString("base64"));
  }
  return forms;
}

function leaks(text: string, forms: string[]): string[] {
  return forms.filter((f) => text.includes(f)).map((f) => `${f.slice(0, 8)}…`);
}

describe.each(["000", "077"])("umask %s", (umask) => {
  it("generate --secrets: units/configs 0644, secret-bearing 0600, dirs 0755, store 0700/0600; check and diff print no secret", () => {
    const out = fresh("out");
    const secrets = join(fresh("node"), "var/lib/archy/secrets");
    const g = run(["generate", "--manifests", CATALOG, "--out", out, "--secrets", secrets], umask);
    expect(g.code, g.stderr).toBe(0);
    expect(SECRET_PATHS.size).toBeGreaterThan(0);
    const wrong: string[] = [];
    for (const e of walk(out)) {
      const want = e.kind === "dir" ? 0o755 : SECRET_PATHS.has(e.path) ? 0o600 : 0o644;
      if (e.kind === "link") wrong.push(`${e.path}: a symlink`);
      else if (e.mode !== want) wrong.push(`${e.path}: ${octal(e.mode)}, want ${octal(want)}`);
    }
    expect(wrong).toEqual([]);
    // The store: 0700, files 0600; the directories created above it 0755.
    expect(octal(lstatSync(secrets).mode & 0o7777)).toBe("0700");
    for (const e of walk(secrets)) expect(`${e.path} ${octal(e.mode)}`).toBe(`${e.path} 0600`);
    for (const d of ["var", "var/lib", "var/lib/archy"]) expect(`${d} ${octal(lstatSync(join(secrets, "../../../..", d)).mode & 0o7777)}`).toBe(`${d} 0755`);

    const forms = secretForms(secrets);
    expect(forms.length).toBeGreaterThan(0);
    for (const e of walk(out)) if (e.kind === "file" && e.mode & 0o044) expect(leaks(e.content!.toString("utf8"), forms), `${e.path} is readable by others`).toEqual([]);
    // The secret-bearing files do hold them (so the check above is not vacuous).
    expect([...SECRET_PATHS].some((p) => leaks(readFileSync(join(out, p), "utf8"), forms).length > 0)).toBe(true);

    const logs = [g];
    const empty = fresh("empty");
    mkdirSync(empty);
    logs.push(run(["check", "--manifests", CATALOG, "--out", empty, "--secrets", secrets], umask));
    logs.push(run(["check", "--manifests", CATALOG, "--out", out, "--secrets", secrets], umask));
    const d = run(["diff", "--manifests", CATALOG, "--against", empty, "--secrets", secrets], umask);
    expect(d.code).toBe(1);
    expect(d.stdout).toContain("+++ b/etc/archy/indexer/electrumx.env");
    logs.push(d, run(["diff", "--manifests", CATALOG, "--against", empty, "--secrets", secrets, "--json"], umask));
    // A rotated secret: the diff says so, without either value.
    const before = secretForms(secrets);
    const rotated = readdirSync(secrets)[0]!;
    writeFileSync(join(secrets, rotated), `${"a".repeat(64)}\n`, { mode: 0o600 });
    const rot = run(["diff", "--manifests", CATALOG, "--against", out, "--secrets", secrets], umask);
    expect(rot.code).toBe(1);
    expect(rot.stdout).toContain("secret values differ (redacted)");
    logs.push(rot);
    const all = [...before, ...secretForms(secrets)];
    for (const l of logs) expect(leaks(l.stdout + l.stderr, all)).toEqual([]);
  });

  it("apply --root (recording adapter, real quadlet preflight): generation, state, links and store modes; no secret in any log", () => {
    const node = fresh("root");
    mkdirSync(node);
    const log = join(fresh("log"), "calls.jsonl");
    mkdirSync(join(log, ".."), { recursive: true });
    const logs: Run[] = [];
    logs.push(run(["apply", "--root", node, "--manifests", CATALOG, "--dry-run"], umask, log));
    const a = run(["apply", "--root", node, "--manifests", CATALOG], umask, log);
    expect(a.code, a.stderr).toBe(0);
    logs.push(a, run(["apply", "--root", node, "--manifests", CATALOG, "--json"], umask, log));
    logs.push(run(["diff", "--manifests", CATALOG, "--against", node, "--secrets", join(node, "var/lib/archy/secrets")], umask));
    logs.push(run(["check", "--manifests", CATALOG, "--out", node, "--secrets", join(node, "var/lib/archy/secrets")], umask));

    const secrets = join(node, "var/lib/archy/secrets");
    const gen = `${STATE_REL}/generations/1/`;
    const wrong: string[] = [];
    for (const e of walk(node)) {
      if (e.kind === "link") continue; // ours, checked by paths.test.ts
      if (e.mode & 0o022) wrong.push(`${e.path}: ${octal(e.mode)} is group/world-writable`);
      let want: number | undefined;
      if (e.kind === "dir") want = e.path === "var/lib/archy/secrets" ? 0o700 : 0o755;
      else if (e.path.startsWith(gen)) {
        const rel = e.path.slice(gen.length);
        want = rel === "meta.json" ? 0o644 : SECRET_PATHS.has(rel) ? 0o600 : 0o644;
      } else if (e.path.startsWith("var/lib/archy/secrets/")) want = 0o600;
      if (want !== undefined && e.mode !== want) wrong.push(`${e.path}: ${octal(e.mode)}, want ${octal(want)}`);
    }
    expect(wrong).toEqual([]);
    expect(existsSync(join(node, gen, "etc/containers/systemd/archy/web.container"))).toBe(true);

    const forms = secretForms(secrets);
    expect(forms.length).toBeGreaterThan(0);
    for (const e of walk(node)) if (e.kind === "file" && e.mode & 0o044) expect(leaks(e.content!.toString("utf8"), forms), `${e.path} is readable by others`).toEqual([]);
    for (const l of logs) expect(leaks(l.stdout + l.stderr, forms)).toEqual([]);
    expect(leaks(readFileSync(log, "utf8"), forms)).toEqual([]);
  });
});
