// The bundled catalog end to end: determinism (repeat, file order, locale,
// time zone), the committed out/ tree, the real quadlet over every unit,
// headers and line endings, and the JSON Schema golden file.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanup, cli, cliProcess, readAll, tempDir, UNIT_DIR, type TreeEntry } from "../helpers/cli.js";
import { fixtureArgs, fixtureNames, GOOD } from "../helpers/fixtures.js";
import { dryrun, execStartArgv, problems, REPO, serviceOf } from "../helpers/quadlet.js";

const CATALOG = join(REPO, "manifests");
let tmp = "";
let reference: Map<string, TreeEntry>;

async function generateCatalog(out: string, cwd = REPO): Promise<Map<string, TreeEntry>> {
  const r = await cli(["generate", "--manifests", "manifests", "--out", out], { cwd });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return readAll(out);
}

/** Files compared by name, bytes and mode, with a readable failure. */
function expectSameTree(actual: Map<string, TreeEntry>, expected: Map<string, TreeEntry>, modes = true): void {
  expect([...actual.keys()]).toEqual([...expected.keys()]);
  const differing = [...expected].filter(([p, e]) => !actual.get(p)!.content.equals(e.content) || (modes && actual.get(p)!.mode !== e.mode)).map(([p]) => p);
  expect(differing).toEqual([]);
}

/** Deterministic shuffle (mulberry32) so a failure reproduces. */
function shuffled<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  const rand = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A copy of the catalog at <dir>/manifests whose entries are created in a shuffled order. */
function shuffledCatalogCopy(dir: string, seed: number): void {
  const dest = join(dir, "manifests");
  mkdirSync(dest, { recursive: true });
  for (const name of shuffled(readdirSync(CATALOG), seed)) cpSync(join(CATALOG, name), join(dest, name), { recursive: true });
}

beforeAll(async () => {
  tmp = tempDir();
  reference = await generateCatalog(join(tmp, "reference"));
});
afterAll(() => cleanup(tmp));

describe("determinism", () => {
  it("the catalog has content to compare", () => {
    expect(readdirSync(CATALOG).filter((f) => f.endsWith(".yaml")).length).toBeGreaterThan(1);
    expect([...reference.keys()].some((p) => p.endsWith(".container"))).toBe(true);
  });

  it("generating twice gives byte-identical trees", async () => {
    expectSameTree(await generateCatalog(join(tmp, "again")), reference);
  });

  it.each([1, 2, 3])("a copy of the catalog created in shuffled order (seed %i) gives the same tree", async (seed) => {
    const work = join(tmp, `shuffled-${seed}`);
    shuffledCatalogCopy(work, seed);
    expectSameTree(await generateCatalog(join(work, "out"), work), reference);
  });

  it.each([
    { LC_ALL: "C", TZ: "UTC" },
    { LC_ALL: "tr_TR.UTF-8", TZ: "Pacific/Kiritimati" },
    { LC_ALL: "de_DE.UTF-8", LANG: "ja_JP.UTF-8", TZ: "America/St_Johns" },
  ])("a subprocess under %o gives the same tree", (env) => {
    const work = join(tmp, `env-${env.TZ.replace(/\W/g, "")}`);
    shuffledCatalogCopy(work, 7);
    const r = cliProcess(["generate", "--manifests", "manifests", "--out", "out"], { cwd: work, env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expectSameTree(readAll(join(work, "out")), reference);
  });
});

describe("the committed out/ tree", () => {
  it("matches a fresh generate (file list and bytes)", () => {
    const committed = join(REPO, "out");
    if (!existsSync(committed)) throw new Error("out/ does not exist: run `npm run generate` and commit out/");
    // git keeps only 644/755, so modes are not compared here.
    expectSameTree(readAll(committed), reference, false);
  });
});

describe("real quadlet", () => {
  it("accepts every unit of the catalog: exit 0, no error or warning, one service per unit", () => {
    const dr = dryrun(join(tmp, "reference", UNIT_DIR));
    expect(dr.code, dr.stderr).toBe(0);
    expect(problems(dr.stderr)).toEqual([]);
    const units = readdirSync(join(tmp, "reference", UNIT_DIR)).sort();
    expect([...dr.services.keys()].sort()).toEqual(units.map(serviceOf).sort());
    // Every podman command line parses under systemd's rules with nothing left to expand.
    for (const [name, text] of dr.services) expect(execStartArgv(text)[0], name).toBe("/usr/bin/podman");
  });
});

describe("every generated file", () => {
  const trees: [string, () => Promise<Map<string, TreeEntry>>][] = [
    ["the catalog", async () => reference],
    ...fixtureNames(GOOD).map((name): [string, () => Promise<Map<string, TreeEntry>>] => [
      `good fixture ${name}`,
      async () => {
        const out = join(tmp, `fixture-${name}`);
        const r = await cli(["generate", "--manifests", "manifests", ...fixtureArgs(join(GOOD, name)), "--out", out], { cwd: join(GOOD, name) });
        expect(r.code, r.stderr).toBe(0);
        return readAll(out);
      },
    ]),
  ];

  it.each(trees)("in %s starts with the generated-by header and uses LF only", async (_, load) => {
    const tree = await load();
    for (const [path, f] of tree) {
      const text = f.content.toString("utf8");
      expect(text.includes("\r"), path).toBe(false);
      // Build contexts are copied verbatim from the manifests, not generated.
      if (path.startsWith("etc/archy/build/")) continue;
      // A bare secret (lnd's wallet-unlock password file) is read whole: no header line.
      if (path.endsWith("/wallet-password")) continue;
      const comment = path.endsWith("/lnd.conf") ? ";" : "#";
      expect(text.startsWith(`${comment} Generated by archy-quadlet`), `${path}: ${text.split("\n")[0]}`).toBe(true);
    }
  });
});

describe("schema/manifest.schema.json", () => {
  it("equals the output of `archy-quadlet schema`", async () => {
    const r = await cli(["schema"]);
    expect(r.code).toBe(0);
    const file = join(REPO, "schema/manifest.schema.json");
    expect(statSync(file).isFile()).toBe(true);
    expect(readFileSync(file, "utf8")).toBe(r.stdout);
  });
});
