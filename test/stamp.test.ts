// The no-op fast path of `check` (a stamp in the user's cache) must never hide drift.
import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const work = mkdtempSync(join(tmpdir(), "archy-stamp-"));
const bundle = join(work, "archy-quadlet.mjs");
const env = { ...process.env, XDG_CACHE_HOME: join(work, "cache") };

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bundle, ...args], { cwd: work, env, encoding: "utf8" });
  return { code: r.status, out: r.stdout + r.stderr };
}

beforeAll(() => {
  execFileSync(process.execPath, [join(ROOT, "scripts/build.mjs"), "--quiet"]);
  cpSync(join(ROOT, "dist/archy-quadlet.mjs"), bundle);
  cpSync(join(ROOT, "test/apply/fixtures/catalog"), join(work, "manifests"), { recursive: true });
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("check's stamp fast path", () => {
  it("records a stamp on generate and on a clean check", () => {
    expect(cli("generate").code).toBe(0);
    expect(readdirSync(join(work, "cache/archy-quadlet"))).toHaveLength(1);
    expect(cli("check")).toEqual({ code: 0, out: "" });
    // A no-op generate answers from the stamp with the same line the full path prints.
    expect(cli("generate")).toEqual({ code: 0, out: expect.stringMatching(/^\.\/out: \d+ files, unchanged\n$/) });
    expect(cli("check", "--json").out).toMatch(/"ok": true/);
  });

  it("a hand edit, a deleted file or an extra file is still drift", () => {
    const unit = join(work, "out/etc/containers/systemd/archy/web.container");
    appendFileSync(unit, "# edited\n");
    expect(cli("check")).toMatchObject({ code: 1, out: expect.stringContaining("modified  etc/containers/systemd/archy/web.container") });
    expect(cli("generate").code).toBe(0);
    rmSync(unit);
    expect(cli("check").code).toBe(1);
    expect(cli("generate").code).toBe(0);
    writeFileSync(join(work, "out/etc/archy/stray.conf"), "x");
    expect(cli("check")).toMatchObject({ code: 1, out: expect.stringContaining("unexpected etc/archy/stray.conf") });
    expect(cli("generate").code).toBe(0);
    expect(cli("check").code).toBe(0);
  });

  it("a changed manifest, build context or selection is drift", () => {
    const m = join(work, "manifests/web.yaml");
    appendFileSync(m, "# a comment changes nothing generated\n");
    expect(cli("check").code).toBe(0); // full path: same output, new stamp
    const ctx = readdirSync(join(work, "manifests/build"))[0]!;
    appendFileSync(join(work, "manifests/build", ctx, "Containerfile"), "LABEL x=y\n");
    expect(cli("check").code).toBe(1);
    expect(cli("generate").code).toBe(0);
    expect(cli("check").code).toBe(0);
  });

  it("a rotated secret is drift when checking with --secrets", () => {
    const secrets = join(work, "secrets");
    expect(cli("generate", "--secrets", secrets, "--out", "node").code).toBe(0);
    expect(cli("check", "--secrets", secrets, "--out", "node").code).toBe(0);
    const file = join(secrets, readdirSync(secrets)[0]!);
    writeFileSync(file, `${"ab".repeat(32)}\n`, { mode: 0o600 });
    expect(cli("check", "--secrets", secrets, "--out", "node").code).toBe(1);
  });

  it("works without a cache (read-only or missing home)", () => {
    rmSync(join(work, "cache"), { recursive: true, force: true });
    writeFileSync(join(work, "cache"), "not a directory");
    expect(cli("generate").code).toBe(0);
    expect(cli("check").code).toBe(0);
    expect(existsSync(join(work, "cache/archy-quadlet"))).toBe(false);
  });
});
