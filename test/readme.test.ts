// The README stays true: its commands exist, its graph is the catalog's, CI runs its test command.
import { readFileSync } from "node:fs";
import { join } from "node:path";
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

describe("README", () => {
  it("shows the current catalog graph", async () => {
    const block = /```mermaid\n([\s\S]*?)\n```/.exec(readme)?.[1];
    expect(block, "README has a mermaid block").toBeDefined();
    expect(block + "\n").toBe(await stdoutOf(["graph"]));
  });

  it("names the test command CI runs and the install+generate line", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(readme).toContain("npm ci && npx archy-quadlet generate");
    expect(readme).toContain("\nnpm test\n");
    expect(pkg.scripts.test).toBeDefined();
    expect(readFileSync(join(ROOT, ".ci/run"), "utf8")).toMatch(/^npm test$/m);
  });

  it("documents every top-level command", async () => {
    const help = await stdoutOf(["--help"]);
    const commands = [...help.matchAll(/^  ([a-z-]+)(?: \[options\]| <|\s)/gm)].map((m) => m[1]!).filter((c) => c !== "help");
    expect(commands.length).toBeGreaterThan(10);
    for (const c of commands) expect(readme, `README mentions \`${c}\``).toMatch(new RegExp("`" + c + "[ `]"));
  });

  it("lists every exit code the program returns, by kind", () => {
    const rows = [...readme.matchAll(/^\| (\d+) \| ([a-z-]+) \|/gm)].map((m) => [m[2]!, Number(m[1])] as const);
    expect(Object.fromEntries(rows)).toEqual(EXIT_CODES);
  });
});
