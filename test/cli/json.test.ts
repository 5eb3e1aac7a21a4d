// Every --json shape, pinned by a golden on the fixture catalog, and each one's
// top-level fields documented in docs/json.md.
import { afterEach, describe, expect, it } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, cleanup, tempDir } from "../helpers/cli.js";
import { CATALOG, REPO, golden, makeNode } from "./helpers.js";

const dirs: string[] = [];
const nodes: (() => void)[] = [];
afterEach(() => {
  cleanup(...dirs.splice(0));
  nodes.splice(0).forEach((c) => c());
});
const run = (argv: string[]) => cli(argv, { cwd: CATALOG });

/** Top-level keys of a JSON document, and of the first element of each top-level array of objects. */
function keys(doc: Record<string, unknown>): string[] {
  const out = Object.keys(doc);
  for (const v of Object.values(doc)) {
    if (Array.isArray(v) && v[0] && typeof v[0] === "object") out.push(...Object.keys(v[0] as object));
  }
  return [...new Set(out)];
}

const DOC = readFileSync(join(REPO, "docs/json.md"), "utf8");
function documented(command: string, doc: Record<string, unknown>): void {
  const section = DOC.split(/^## /m).find((s) => s.startsWith(`\`${command}`));
  expect(section, `docs/json.md has a section for ${command}`).toBeDefined();
  for (const k of keys(doc)) expect(section!.includes(`\`${k}\``) || section!.includes(`"${k}"`), `docs/json.md documents ${command} field "${k}"`).toBe(true);
}

describe("--json shapes", () => {
  it("validate: ok and with diagnostics", async () => {
    const ok = await run(["validate", "--select", "selection.yaml", "--json"]);
    expect(ok.code).toBe(0);
    golden("validate-shape.json", ok.stdout);
    documented("validate", JSON.parse(ok.stdout));
    const bad = tempDir("archy-ux-bad-");
    dirs.push(bad);
    writeFileSync(join(bad, "broken.yaml"), "id: broken\nname: Broken\nversion: '1'\nkind: service\ndescription: x\ncontainers: {}\n");
    const r = await cli(["validate", "--manifests", bad, "--json"]);
    expect(r.code).toBe(2);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(false);
    expect(j.diagnostics[0]).toMatchObject({ file: join(bad, "broken.yaml"), path: "containers" });
    documented("validate", { ...j, diagnostics: [{ file: "", line: 1, col: 1, path: "", message: "" }] });
  });

  it("check and diff", async () => {
    const out = tempDir("archy-ux-json-");
    dirs.push(out);
    await run(["generate", "--select", "selection.yaml", "--out", out]);
    const same = await run(["check", "--select", "selection.yaml", "--out", out, "--json"]);
    expect(JSON.parse(same.stdout)).toEqual({ ok: true, drift: [] });
    writeFileSync(join(out, "etc/archy/btc/bitcoin.conf"), "tampered\n");
    const check = await run(["check", "--select", "selection.yaml", "--out", out, "--json"]);
    expect(check.code).toBe(1);
    golden("check-shape.json", check.stdout);
    documented("check", JSON.parse(check.stdout));
    const diff = await run(["diff", "--select", "selection.yaml", "--against", out, "--json"]);
    expect(diff.code).toBe(1);
    golden("diff-shape.json", diff.stdout);
    documented("diff", JSON.parse(diff.stdout));
  });

  it("apply --dry-run and generations", async () => {
    const root = tempDir("archy-ux-root-");
    dirs.push(root);
    const plan = await run(["apply", "--dry-run", "--json", "--select", "selection.yaml", "--manifests", "manifests", "--root", root]);
    expect(plan.code).toBe(0);
    // Progress goes to stderr with --json; stdout is the document alone.
    expect(plan.stderr).toMatch(/^plan: /);
    golden("apply-dry-run-shape.json", plan.stdout);
    documented("apply", JSON.parse(plan.stdout));

    const n = makeNode();
    nodes.push(n.cleanup);
    const gens = await cli(["generations", "--root", n.root, "--json"]);
    expect(gens.code).toBe(0);
    golden("generations-shape.json", gens.stdout);
    documented("generations", JSON.parse(gens.stdout));
  });

  it("status, explain and graph sections exist too", () => {
    for (const f of ["status-degraded.json", "explain-wallet.json"]) {
      const doc = JSON.parse(readFileSync(join(REPO, "test/cli/golden", f), "utf8"));
      documented(f.startsWith("status") ? "status" : "explain", doc);
    }
  });
});
