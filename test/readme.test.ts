// The README and docs/ stay true: the README is short and has its sections, its
// links resolve, its CLI table names exactly the commands and flags the CLI has,
// its exit-code table is the one map, the graph in docs/operations.md is the
// catalog's, CI runs its test command.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { EXIT_CODES, main } from "../src/cli/main.js";

const ROOT = join(import.meta.dirname, "..");
const readme = readFileSync(join(ROOT, "README.md"), "utf8");

async function stdoutOf(argv: string[]): Promise<string> {
  let out = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  const cwd = process.cwd();
  process.chdir(ROOT);
  try {
    expect(await main(argv)).toBe(0);
  } finally {
    process.chdir(cwd);
    spy.mockRestore();
  }
  return out;
}

const DOCS = ["README.md", ...["manifest", "operations", "hooks", "security", "performance", "testing", "json"].map((d) => `docs/${d}.md`)];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
const anchors = (md: string) => new Set([...md.matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!.toLowerCase().replace(/[^a-z0-9 _-]/g, "").replace(/ /g, "-")));

/** The CLI table's rows: each backticked `command [--flag …]` of the first column. */
function cliRows(md: string): { command: string[]; flags: string[] }[] {
  const table = /## CLI\n\n(\| command[\s\S]*?)\n\n/.exec(md)?.[1] ?? "";
  return table
    .split("\n")
    .slice(2)
    .flatMap((row) => [...(row.split(" | ")[0] ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1]!.split(/\s+/)))
    .map((words) => {
      const n = words[0] === "ota" || words[0] === "podman" ? 2 : 1;
      return { command: words.slice(0, n), flags: words.filter((w) => w.startsWith("--")).map((w) => w.replace(/[\]|].*$/, "")) };
    });
}

describe("README", () => {
  it("is at most 350 lines and has its sections", () => {
    expect(readme.split("\n").length).toBeLessThanOrEqual(350);
    for (const h of ["## The two command lines", "## A manifest", "## CLI", "### Exit codes", "## Architecture", "## Contributing"]) expect(readme).toContain(`\n${h}\n`);
    for (const what of ["**Add a manifest key.**", "**Add a config kind**", "**Add a Podman key.**"]) expect(readme).toContain(what);
  });

  it("links only to files and headings that exist (README and docs/)", () => {
    for (const doc of DOCS) {
      const text = readFileSync(join(ROOT, doc), "utf8");
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue; // https:, mailto:
        const [file, anchor] = target!.split("#") as [string, string | undefined];
        const path = file === "" ? join(ROOT, doc) : join(ROOT, dirname(doc), file);
        expect(existsSync(path), `${doc}: link to ${target}`).toBe(true);
        if (anchor && path.endsWith(".md")) expect(anchors(readFileSync(path, "utf8")), `${doc}: anchor in ${target}`).toContain(anchor);
      }
    }
  });

  it("the CLI table names every command, and every flag it shows exists", async () => {
    const rows = cliRows(readme);
    expect(rows.length).toBeGreaterThan(10);
    const help = await stdoutOf(["--help"]);
    const top = [...help.matchAll(/^  ([a-z-]+)(?: \[options\]| <|\s)/gm)].map((m) => m[1]!).filter((c) => c !== "help");
    for (const c of top) expect(rows.some((r) => r.command[0] === c), `CLI table has \`${c}\``).toBe(true);
    for (const r of rows) {
      const h = await stdoutOf([...r.command, "--help"]);
      expect(h, `${r.command.join(" ")} is a command`).toContain(`Usage: archy-quadlet ${r.command.join(" ")}`);
      for (const f of r.flags) expect(h, `${r.command.join(" ")} has ${f}`).toMatch(new RegExp(`${f}\\b`));
    }
  });

  it("docs/operations.md shows the current catalog graph", async () => {
    const block = /```mermaid\n([\s\S]*?)\n```/.exec(readFileSync(join(ROOT, "docs/operations.md"), "utf8"))?.[1];
    expect(block, "docs/operations.md has a mermaid block").toBeDefined();
    expect(block + "\n").toBe(await stdoutOf(["graph"]));
  });

  it("names the test command CI runs and the install+generate line", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(readme).toContain("npm ci && npx archy-quadlet generate");
    expect(readme).toContain("\nnpm test\n");
    expect(pkg.scripts.test).toBeDefined();
    expect(readFileSync(join(ROOT, ".ci/run"), "utf8")).toMatch(/^npm test$/m);
  });

  it("lists every exit code the program returns, by kind", () => {
    const rows = [...readme.matchAll(/^\| (\d+) \| ([a-z-]+) \|/gm)].map((m) => [m[2]!, Number(m[1])] as const);
    expect(Object.fromEntries(rows)).toEqual(EXIT_CODES);
  });
});
