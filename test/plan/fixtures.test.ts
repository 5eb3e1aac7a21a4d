// Fixture-driven tests. Good cases: generate, run the real quadlet over the
// tree, and check podman's argv against the assertions written in the fixture
// and against the manifest values themselves. Bad cases: exit 2 with exactly
// the diagnostics in expected.txt and nothing written.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanup, cli, readAll, tempDir, UNIT_DIR, type Run } from "../helpers/cli.js";
import { BAD, fixtureArgs, fixtureNames, GOOD, manifestExpectations, readAssertions, type Assertion } from "../helpers/fixtures.js";
import { podmanStoredHealthTest } from "../helpers/podman-health.js";
import { dryrun, execStartArgv, indexOfWords, problems, serviceOf, unitValues, type DryRun } from "../helpers/quadlet.js";

describe.each(fixtureNames(GOOD))("good fixture %s", (name) => {
  const dir = join(GOOD, name);
  let tree = "";
  let run: Run;
  let dr: DryRun;
  const service = (s: string) => {
    const text = dr.services.get(s);
    if (text === undefined) throw new Error(`quadlet produced no ${s}; it has: ${[...dr.services.keys()].join(", ")}`);
    return text;
  };
  const argv = (s: string) => execStartArgv(service(s));

  beforeAll(async () => {
    tree = tempDir();
    run = await cli(["generate", "--manifests", "manifests", ...fixtureArgs(dir), "--out", tree], { cwd: dir });
    if (run.code !== 0) throw new Error(`generate failed (${run.code}):\n${run.stderr}`);
    dr = dryrun(join(tree, UNIT_DIR));
  });
  afterAll(() => cleanup(tree));

  it("generates, and quadlet turns every unit into a service without complaint", () => {
    expect(run.stderr).toBe("");
    expect(dr.code, dr.stderr).toBe(0);
    expect(problems(dr.stderr)).toEqual([]);
    const units = readdirSync(join(tree, UNIT_DIR)).sort();
    expect([...dr.services.keys()].sort()).toEqual(units.map(serviceOf).sort());
  });

  const assertions = readAssertions(dir);
  it("states at least one assertion", () => expect(assertions.length).toBeGreaterThan(0));

  it.each(assertions.map((a): [string, Assertion] => [`${a.where}: assert-${a.kind} ${a.service}`, a]))("%s", (_, a) => {
    switch (a.kind) {
      case "argv":
        expect(indexOfWords(argv(a.service), a.words), `${JSON.stringify(a.words)} in ${JSON.stringify(argv(a.service))}`).toBeGreaterThanOrEqual(0);
        break;
      case "argv-end":
        expect(argv(a.service).slice(-a.words.length)).toEqual(a.words);
        break;
      case "key":
      case "no-key": {
        const [key, ...value] = a.line.split("=");
        const values = unitValues(service(a.service), a.section, key!);
        if (a.kind === "key") expect(values).toContain(value.join("="));
        else expect(values).not.toContain(value.join("="));
      }
    }
  });

  it("podman receives every environment value, exec argument, entrypoint, health command and build arg exactly as written", () => {
    const expected = manifestExpectations(dir);
    expect(expected.length).toBeGreaterThan(0);
    for (const e of expected) {
      const args = argv(e.service);
      for (const [k, v] of e.env) {
        expect(indexOfWords(args, ["--env", `${k}=${v}`]), `${e.service}: --env ${k}=${JSON.stringify(v)} in ${JSON.stringify(args)}`).toBeGreaterThanOrEqual(0);
      }
      // The image, then the exec arguments, end the command line.
      const tail = [e.image, ...(e.command ?? [])];
      expect(args.slice(-tail.length), e.service).toEqual(tail);
      const after = (flag: string) => {
        const i = args.indexOf(flag);
        expect(i, `${e.service}: ${flag}`).toBeGreaterThan(0);
        return JSON.parse(args[i + 1]!) as unknown;
      };
      if (e.entrypoint) expect(after("--entrypoint"), e.service).toEqual(e.entrypoint);
      // What podman stores, by the model of its --health-cmd rule (helpers/podman-health.ts).
      if (e.health) expect(podmanStoredHealthTest(args[args.indexOf("--health-cmd") + 1]!), e.service).toEqual(e.health);
      if (e.buildService) {
        const build = argv(e.buildService);
        for (const [k, v] of e.buildArgs) expect(indexOfWords(build, ["--build-arg", `${k}=${v}`]), `${e.buildService}: ${k}`).toBeGreaterThanOrEqual(0);
      }
    }
  });
});

describe("the hostile fixture", () => {
  // Guard against the fixture losing its teeth: every category is present everywhere.
  const [main, built] = manifestExpectations(join(GOOD, "hostile"));
  const NEEDLES = ["%", "%h", "%%", "$HOME", "${X}", "$$", '"', "'", "\\", " ", "\t", ";", "#", "\u202E", "😀"];
  const places: [string, string[]][] = [
    ["environment values", main!.env.map(([, v]) => v)],
    ["exec arguments", main!.command!],
    ["health command", main!.health!],
    ["entrypoint", main!.entrypoint!],
    ["build args", built!.buildArgs.map(([, v]) => v)],
  ];
  it.each(places)("%s contain every hostile character", (_, values) => {
    const all = values.join("\n");
    for (const n of NEEDLES) expect(all, JSON.stringify(n)).toContain(n);
  });
  it.each(places.slice(0, 2))("%s have quotes, ';' and '#' at the start or end of a value", (_, values) => {
    for (const re of [/^"/, /"$/, /^'/, /'$/, /^;/, /^#/, /^\s/, /\s$/, /\\$/, /\u0301/]) expect(values.some((v) => re.test(v)), String(re)).toBe(true);
  });
});

describe.each(fixtureNames(BAD))("bad fixture %s", (name) => {
  const dir = join(BAD, name);
  const expected = readFileSync(join(dir, "expected.txt"), "utf8").split("\n").filter(Boolean);
  let tmp = "";
  beforeAll(() => {
    tmp = tempDir();
  });
  afterAll(() => cleanup(tmp));

  it.each(["generate", "validate"])("%s: exit 2, exactly the expected diagnostics, no stack trace, nothing written", async (cmd) => {
    const fresh = join(tmp, `${cmd}-new`);
    const existing = join(tmp, `${cmd}-existing`);
    mkdirSync(existing);
    writeFileSync(join(existing, "keep.txt"), "untouched\n");
    for (const out of [fresh, existing]) {
      const r = await cli([cmd, "--manifests", "manifests", ...fixtureArgs(dir), ...(cmd === "generate" ? ["--out", out] : [])], { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      const lines = r.stderr.split("\n").filter(Boolean);
      expect(lines.filter((l) => l.includes(": error: "))).toEqual(expected);
      expect(lines.at(-1)).toBe(`${expected.length} error${expected.length === 1 ? "" : "s"}; nothing written`);
      expect(r.stderr).not.toMatch(/^\s+at |internal error/m);
    }
    expect(existsSync(fresh)).toBe(false);
    expect([...readAll(existing).keys()]).toEqual(["keep.txt"]);
  });

  it("points every diagnostic at file:line:col and names the field", () => {
    expect(expected.length).toBeGreaterThan(0);
    for (const l of expected) {
      if (l.startsWith("manifests: ")) continue; // about the directory itself
      expect(l).toMatch(/^(manifests\/[a-z0-9.-]+\.yaml|selection\.yaml):\d+:\d+: error: /);
      // YAML syntax errors and a non-mapping document have no field to name.
      if (!/: error: (invalid YAML|a manifest must be)/.test(l)) expect(l).toMatch(/: error: [a-z_]+[A-Za-z0-9_.[\]-]*: /);
    }
  });
});
