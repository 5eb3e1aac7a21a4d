// --help examples on every command, bash completion derived from the program,
// and the start-up budget: generate/check never load the operator commands.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { cli } from "../helpers/cli.js";
import { buildProgram } from "../../src/cli/main.js";
import { bashCompletion } from "../../src/cli/completion.js";
import { CATALOG, REPO, golden, makeNode } from "./helpers.js";

function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

describe("--help", () => {
  const paths = [[], ...commandPaths(buildProgram())];
  it("covers the nested commands", () => {
    const names = paths.map((p) => p.join(" "));
    for (const n of ["ota prepare", "ota verify", "podman heal", "explain", "graph", "status", "completion"]) expect(names).toContain(n);
  });
  for (const path of paths) {
    it(`archy-quadlet ${path.join(" ") || "(program)"} --help shows an example`, async () => {
      const r = await cli([...path, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/\nExamples:\n {2}\$ archy-quadlet \S/);
      // Examples name the command they document.
      if (path.length) expect(r.stdout).toContain(`$ archy-quadlet ${path.join(" ")}`);
    });
  }
});

function complete(script: string, words: string[], cwd = REPO): string[] {
  const line = words.map((w) => `'${w}'`).join(" ");
  const prog = `${script}\nCOMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; _archy_quadlet; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync("bash", ["--norc", "--noprofile", "-c", prog], { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.split("\n").filter(Boolean).sort();
}

describe("completion bash", () => {
  const script = bashCompletion(buildProgram());

  it("is printed by the CLI and matches the golden", async () => {
    const r = await cli(["completion", "bash"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(script);
    golden("completion.bash", r.stdout);
    expect(spawnSync("bash", ["-n", "-c", script]).status).toBe(0);
  });

  it("only bash", async () => {
    const r = await cli(["completion", "zsh"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Allowed choices are bash/);
  });

  it("completes commands, nested subcommands and options", () => {
    expect(complete(script, ["archy-quadlet", ""])).toEqual(
      ["adopt", "apply", "backup", "check", "completion", "connect", "diff", "explain", "generate", "generations", "graph", "help", "ota", "podman", "reconcile", "rollback", "schema", "settings", "status", "validate"].sort(),
    );
    expect(complete(script, ["archy-quadlet", "ota", ""])).toEqual(["help", "prepare", "verify"]);
    expect(complete(script, ["archy-quadlet", "podman", "h"])).toEqual(["heal", "help"]);
    expect(complete(script, ["archy-quadlet", "ota", "verify", "--w"])).toEqual(["--window"]);
    expect(complete(script, ["archy-quadlet", "status", "--"])).toEqual(["--help", "--json", "--root"]);
    expect(complete(script, ["archy-quadlet", "diff", "--no-"])).toEqual(["--no-color"]);
  });

  it("completes option values: choices, directories, files; skips values when finding the command", () => {
    expect(complete(script, ["archy-quadlet", "graph", "--format", ""])).toEqual(["dot", "mermaid"]);
    expect(complete(script, ["archy-quadlet", "explain", "--manifests", "tes"])).toEqual(["test"]);
    expect(complete(script, ["archy-quadlet", "apply", "--select", "test/cli/fixtures/catalog/sel"])).toEqual(["test/cli/fixtures/catalog/selection.yaml"]);
    // "generate" after --out is the option's value, not a command.
    expect(complete(script, ["archy-quadlet", "check", "--out", "generate", "--j"])).toEqual(["--json"]);
  });

  it("completes the app of explain from --manifests (or ./manifests)", () => {
    expect(complete(script, ["archy-quadlet", "explain", "--manifests", join(CATALOG, "manifests"), "w"])).toEqual(["wallet"]);
    expect(complete(script, ["archy-quadlet", "explain", "b"], CATALOG)).toEqual(["btc", "btc-alt"]);
    expect(complete(script, ["archy-quadlet", "explain", "btc", ""], CATALOG)).toEqual([]);
    expect(complete(script, ["archy-quadlet", "completion", ""])).toEqual(["bash"]);
  });
});

describe("start-up budget", () => {
  it("main.ts loads the operator commands lazily; compile-cmds never imports them", () => {
    const main = readFileSync(join(REPO, "src/cli/main.ts"), "utf8");
    for (const m of ["explain", "graph", "status", "completion", "progress"]) {
      expect(main).not.toMatch(new RegExp(`^import[^;]*"\\./${m}\\.js"`, "m"));
    }
    const compile = readFileSync(join(REPO, "src/cli/compile-cmds.ts"), "utf8");
    expect(compile).not.toMatch(/from "\.\/(explain|graph|status|completion|progress)\.js"/);
  });
});

describe("status through the CLI", () => {
  it("is wired to the command adapter (ARCHY_QUADLET_ADAPTER=record: answers nothing → every container unknown → exit 1)", async () => {
    const n = makeNode();
    const dir = mkdtempSync(join(tmpdir(), "archy-ux-log-"));
    const log = join(dir, "calls.jsonl");
    writeFileSync(log, "");
    process.env.ARCHY_QUADLET_ADAPTER = `record:${log}`;
    try {
      const r = await cli(["status", "--root", n.root, "--json"]);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).down).toHaveLength(5);
      const calls = readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { cmd: string; args: string[] });
      expect(calls.map((c) => `${c.cmd} ${c.args.slice(0, 2).join(" ")}`)).toEqual(["systemctl show --no-pager", "podman container inspect", "podman images --format", "podman info --format"]);
    } finally {
      delete process.env.ARCHY_QUADLET_ADAPTER;
      n.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
