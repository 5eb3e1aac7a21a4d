// Every failing input the hardening work found, kept as a fixture:
// test/hostile/regressions/<case>/{manifests/, expect.txt, README}. expect.txt is
// "rejected" then substrings the diagnostics must contain, or "accepted" (then
// quadlet must take the units and podman's argv must hold every value literally).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { cli } from "../helpers/cli.js";
import { checkWithQuadlet, listFiles, scratch, expectationsOf, UNIT_DIR, type Pending, type Raw } from "./helpers.js";

const ROOT = join(import.meta.dirname, "../hostile/regressions");
const cases = readdirSync(ROOT).filter((n) => existsSync(join(ROOT, n, "expect.txt"))).sort();
const tmp = scratch("archy-regress-");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.each(cases)("regression %s", (name) => {
  const dir = join(ROOT, name);
  const [verdict, ...needles] = readFileSync(join(dir, "expect.txt"), "utf8").split("\n").filter(Boolean);

  it(`${verdict}: through \`generate\`, no stack trace, no stray warning`, async () => {
    const out = join(tmp, name);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "keep.txt"), "untouched\n");
    // Node prints process warnings (e.g. from the yaml library) on a later tick: catch them here.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    let r;
    try {
      r = await cli(["generate", "--manifests", join(dir, "manifests"), "--out", out]);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings).toEqual([]);
    expect(r.stderr).not.toMatch(/^\s+at |internal error|Warning:/m);
    if (verdict === "rejected") {
      expect(r.code, r.stderr).toBe(2);
      for (const n of needles) expect(r.stderr).toContain(n);
      // One line per diagnostic plus the summary: nothing a value carried split a line.
      for (const l of r.stderr.split("\n").filter(Boolean).slice(0, -1)) expect(l).toMatch(/^\S+:\d+:\d+: error: /);
      expect(listFiles(out)).toEqual(["keep.txt"]);
      return;
    }
    expect(verdict).toBe("accepted");
    expect(r.code, r.stderr).toBe(0);
    const units = readdirSync(join(out, UNIT_DIR));
    const pending: Pending[] = [];
    const files = units.map((u) => ({ name: u, content: readFileSync(join(out, UNIT_DIR, u), "utf8") }));
    const expectations = readdirSync(join(dir, "manifests"))
      .filter((f) => f.endsWith(".yaml"))
      .flatMap((f) => expectationsOf(parse(readFileSync(join(dir, "manifests", f), "utf8")) as Raw));
    pending.push({ label: name, files, expect: expectations, source: "" });
    const res = checkWithQuadlet(pending);
    expect(res.failures.flatMap((f) => f.problems)).toEqual([]);
    expect(res.passed).toBe(1);
  });
});
