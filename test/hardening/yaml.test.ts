// YAML attacks on the reader, through the CLI (`validate` and `generate`, and the
// --select file): alias bombs, deep nesting, multiple documents, huge files,
// invalid UTF-8, language tags, merge keys, huge keys. Each ends in a clear
// diagnostic (file:line:col where there is a position), exit 2, no stack trace,
// nothing written, and finishes fast (a generous bound: a sanity check, not a
// timing test).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cli } from "../helpers/cli.js";
import { scratch } from "./helpers.js";

const root = scratch("archy-yaml-");
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const GOOD = `id: app
name: App
version: "1.0"
kind: service
description: A valid manifest.
containers:
  web:
    image: docker.io/library/busybox:1.36
`;

/** Nine levels of ten aliases each: 10^9 nodes if expanded. */
function laughs(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    lines.push(`${cur}: &${cur} [${Array(10).fill(`*${prev}`).join(",")}]`);
  }
  return `${GOOD}${lines.join("\n")}\n`;
}

interface Attack {
  name: string;
  text: string | Buffer;
  /** every diagnostic line must contain this */
  message: RegExp;
  /** the diagnostic carries line:col (false only for file-level problems like the size limit) */
  positioned?: boolean;
}

const ATTACKS: Attack[] = [
  { name: "billion laughs (9 levels × 10 aliases)", text: laughs(), message: /YAML could not be resolved: Excessive alias count|unknown key/ },
  {
    name: "quadratic blow-up: one 100 KB anchor referenced 500 times",
    text: `${GOOD}big: &b "${"x".repeat(100_000)}"\nrefs: [${Array(500).fill("*b").join(",")}]\n`,
    message: /Excessive alias count|unknown key/,
  },
  { name: "an alias inside the node it names (a cycle)", text: `${GOOD}a: &a [ *a ]\n`, message: /invalid YAML: alias \*a is inside the node it refers to \(a cycle\)/ },
  { name: "a cycle through a merge key", text: `${GOOD}a: &a { <<: *a }\n`, message: /invalid YAML: alias \*a is inside the node it refers to/ },
  { name: "a cycle two levels down", text: `${GOOD}a: &a { b: { c: [1, *a] } }\n`, message: /invalid YAML: alias \*a is inside the node it refers to/ },
  { name: "10,000 nested flow sequences", text: `${GOOD}deep: ${"[".repeat(10_000)}${"]".repeat(10_000)}\n`, message: /invalid YAML: the document is nested too deeply/ },
  { name: "10,000 nested flow mappings", text: `${GOOD}deep: ${"{a: ".repeat(10_000)}1${"}".repeat(10_000)}\n`, message: /invalid YAML: the document is nested too deeply/ },
  { name: "10,000 nested block sequences", text: `${GOOD}deep:\n${Array.from({ length: 10_000 }, () => "- ").join("")}x\n`, message: /invalid YAML/ },
  { name: "1,400 nested block mappings (all that fit in 1 MiB)", text: `${GOOD}deep:\n${Array.from({ length: 1_400 }, (_, i) => `${" ".repeat(i + 1)}k:`).join("\n")} 1\n`, message: /invalid YAML: the document is nested too deeply/ },
  { name: "two documents", text: `${GOOD}---\n${GOOD}`, message: /invalid YAML: Source contains multiple documents/ },
  { name: "a document end then more", text: `${GOOD}...\nid: other\n`, message: /invalid YAML/ },
  { name: "10 MB manifest", text: `${GOOD}pad: "${"x".repeat(10 * 1024 * 1024)}"\n`, message: /file is \d+ bytes; manifests are limited to 1048576 bytes/, positioned: false },
  { name: "invalid UTF-8 (a lone continuation byte)", text: Buffer.concat([Buffer.from(`${GOOD}é: `), Buffer.from([0x80, 0x0a])]), message: /:9:4: error: file is not valid UTF-8 \(byte 0x80\)/ },
  { name: "invalid UTF-8 (overlong NUL)", text: Buffer.concat([Buffer.from("id: app\nname: "), Buffer.from([0xc0, 0x80]), Buffer.from("\n")]), message: /:2:7: error: file is not valid UTF-8 \(byte 0xc0\)/ },
  { name: "invalid UTF-8 (an encoded surrogate)", text: Buffer.concat([Buffer.from("id: app\n"), Buffer.from([0xed, 0xa0, 0x80])]), message: /:2:1: error: file is not valid UTF-8 \(byte 0xed\)/ },
  { name: "UTF-16 with a byte order mark", text: Buffer.from(`\ufeff${GOOD}`, "utf16le"), message: /file is not valid UTF-8/ },
  { name: "!!js/function tag", text: GOOD.replace("A valid manifest.", '!!js/function "function(){ require(\'child_process\').execSync(\'id\') }"'), message: /invalid YAML: Unresolved tag: tag:yaml.org,2002:js\/function/ },
  { name: "!!python/object tag", text: GOOD.replace("A valid manifest.", "!!python/object/apply:os.system ['id']"), message: /invalid YAML: Unresolved tag/ },
  { name: "local tag", text: GOOD.replace("web:", "web: !exec"), message: /invalid YAML: Unresolved tag/ },
  { name: "merge key", text: `base: &base { image: docker.io/library/busybox:1.36 }\n${GOOD.replace("    image: docker.io/library/busybox:1.36\n", "    <<: *base\n")}`, message: /unknown key "(<<|base)"/ },
  { name: "a 100,000-character plain key", text: `${GOOD}${"k".repeat(100_000)}: 1\n`, message: /invalid YAML|unknown key/ },
  { name: "a 100,000-character quoted key", text: `${GOOD}"${"k".repeat(100_000)}": 1\n`, message: /invalid YAML|unknown key/ },
  { name: "a collection as a key", text: `${GOOD}? { a: 1 }\n: x\n`, message: /unknown key/ },
  { name: "a __proto__ key", text: `${GOOD}    environment: { __proto__: { polluted: yes } }\n`, message: /containers\.web\.environment\.__proto__: the key "__proto__" is not allowed/ },
  { name: "a %YAML 1.1 directive (1.1 booleans, octals, sexagesimals)", text: `%YAML 1.1\n---\n${GOOD.replace("version: \"1.0\"", "version: 1:30")}`, message: /version|invalid YAML/ },
  { name: "NUL byte in the text", text: `${GOOD}\0\n`, message: /invalid YAML|unknown key|must not contain/ },
  { name: "an empty file", text: "", message: /a manifest must be a YAML mapping, got an empty document/ },
  { name: "only a comment", text: "# nothing\n", message: /a manifest must be a YAML mapping, got an empty document/ },
];

/** Run one attack as a manifest and as a selection; return what the CLI said. */
async function attack(a: Attack, as: "manifest" | "selection", cmd: "validate" | "generate") {
  const dir = join(root, `case-${++n}`);
  mkdirSync(join(dir, "manifests"), { recursive: true });
  const out = join(dir, "out");
  let args: string[];
  if (as === "manifest") {
    writeFileSync(join(dir, "manifests", "app.yaml"), a.text);
    args = [cmd, "--manifests", join(dir, "manifests")];
  } else {
    writeFileSync(join(dir, "manifests", "app.yaml"), GOOD);
    writeFileSync(join(dir, "selection.yaml"), a.text);
    args = [cmd, "--manifests", join(dir, "manifests"), "--select", join(dir, "selection.yaml")];
  }
  if (cmd === "generate") args.push("--out", out);
  const heap = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const r = await cli(args);
  const ms = performance.now() - t0;
  const grew = process.memoryUsage().heapUsed - heap;
  const wrote = readdirSync(dir).includes("out");
  rmSync(dir, { recursive: true, force: true });
  return { ...r, ms, grew, wrote };
}

describe.each(["manifest", "selection"] as const)("as a %s", (as) => {
  it.each(ATTACKS.map((a) => [a.name, a] as const))("%s: exit 2, a clear diagnostic, no stack trace, nothing written, fast", async (_, a) => {
    for (const cmd of ["validate", "generate"] as const) {
      const r = await attack(a, as, cmd);
      expect(r.code, r.stderr.slice(0, 2000)).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).not.toMatch(/^\s+at |internal error|Warning:|RangeError|TypeError/m);
      const lines = r.stderr.split("\n").filter(Boolean);
      expect(lines.at(-1)).toMatch(/^\d+ errors?; nothing written$/);
      const diags = lines.slice(0, -1);
      expect(diags.length).toBeGreaterThan(0);
      const file = as === "manifest" ? "manifests/app.yaml" : "selection.yaml";
      // The attack is reported against the attacked file (a selection cannot name a manifest it did not parse).
      const mine = diags.filter((l) => l.includes(file));
      expect(mine.length, diags.join("\n").slice(0, 2000)).toBeGreaterThan(0);
      if (as === "manifest" || !/unknown key|__proto__|version/.test(String(a.message))) {
        expect(mine.some((l) => a.message.test(l)), `${a.message} in:\n${diags.join("\n").slice(0, 2000)}`).toBe(true);
      }
      for (const l of mine) {
        if (a.positioned === false) expect(l).toMatch(new RegExp(`${file.replace(".", "\\.")}: error: `));
        else expect(l).toMatch(new RegExp(`${file.replace(".", "\\.")}:\\d+:\\d+: error: `));
        // A diagnostic stays a readable line, whatever the input held.
        expect(l.length).toBeLessThan(4096);
      }
      expect(r.wrote).toBe(false);
      expect(r.ms, `${cmd} took ${Math.round(r.ms)} ms`).toBeLessThan(15_000);
      expect(r.grew, `heap grew ${r.grew >> 20} MiB`).toBeLessThan(512 << 20);
    }
  });
});
