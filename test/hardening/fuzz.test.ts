// Property-based fuzzing of the whole pipeline: manifest text → read → validate
// → graph → lower → unit files → the real quadlet → podman's argv.
//
// Every case must end in exactly one of two ways: diagnostics (exit 2, one clean
// line each, no exception, no stack trace, nothing written), or units that the
// real quadlet accepts and in which every environment value, exec word,
// entrypoint word, health command, build arg, user, alias, tmpfs and volume
// reaches podman's argv exactly as the manifest says.
//
// FUZZ_RUNS sets the number of cases (default 2,000; 10,000 when CI=true),
// FUZZ_SEED reproduces a run. Counts go to test/hardening/fuzz-stats.json
// (gitignored: it changes with every seed).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parseDocument, stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { cli } from "../helpers/cli.js";
import { checkWithQuadlet, compileDir, diagnosticProblems, listFiles, pendingOf, scratch, writeCatalog, type Pending, type Raw } from "./helpers.js";

const CI = process.env.CI === "true";
const RUNS = Number(process.env.FUZZ_RUNS ?? (CI ? 10_000 : 2_000));
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
/** One case in CLI_EVERY also runs through `archy-quadlet generate` (in-process main()). */
const CLI_EVERY = 40;
const STATS = join(import.meta.dirname, "fuzz-stats.json");
const FAILURES = join(import.meta.dirname, "fuzz-failures");

// --- generators -------------------------------------------------------------

/** Pieces of text that systemd, quadlet, YAML or a shell would treat specially. */
const HOSTILE = [
  "%", "%h", "%%", "%n", "100%", "$", "${X}", "$$", "$HOME", '"', "'", '\\', "\\\\", "\\n", "\\x41", ";", "#", " ", "  ", "\t",
  "=", ":", ": ", " #", "-", "- ", "*a", "&a", "!!str", "!", "|", ">", "?", "@", "`", "[", "]", "{", "}", ",", "<<",
  "\u202E", "\u0301", "😀", "\u00A0", "\u0085", "\u2028", "\u2029", "\uFEFF", "\u200B", "\u3000", "\x1b[2J", "\x7f", "\x9b", "\x01",
  "null", "true", "~", "0x1F", "1e3", ".inf", "-", "---", "...",
];
/** Characters no value may carry (each must be refused with a diagnostic). */
const POISON = ["\n", "\r", "\0", "\uD800", "\uDFFF", "\u0080"];
/** Display text (name, description) refuses controls and bidi overrides. */
const NOT_DISPLAY = /[\x00-\x08\x0B-\x1F\x7F-\x9F\u200E\u200F\u202A-\u202E\u2066-\u2069]/;
const CLEAN = (s: string) => !/[\n\r\0\u0080]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

const piece = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 5, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 6 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 3 }) },
);
/** Any string a value may hold (clean: none of the POISON characters). */
const text = (min = 0, max = 6) => fc.array(piece, { minLength: min, maxLength: max }).map((a) => a.join("")).filter(CLEAN);
const display = text(1, 5).filter((s) => !NOT_DISPLAY.test(s) && s.trim() !== "" && s.length <= 80);
const execWord = text(1, 4).filter((w) => w !== "" && w !== ";");
const envName = fc.oneof(fc.constantFrom("A", "PATH", "_x", "DB_PASSWORD", "lower", "X1"), fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/));
const key = fc.constantFrom("web", "db", "app", "worker", "x-1", "a");
const image = fc.constantFrom(
  "docker.io/library/busybox:1.36",
  "ghcr.io/acme/tool:v1.2.3",
  "registry.example.com:5000/a/b/c:latest",
  "docker.io/library/nginx:1.27@sha256:" + "ab".repeat(32),
  "quay.io/x/y",
);
const containerPath = fc.constantFrom("/data", "/var/lib/x", "/a/b", "/srv/@x+y", "/tmp", "/run/a.b");
const volume = fc.record(
  {
    // Mostly sibling directories; sometimes nested ones (refused when the outer one is read-write).
    source: fc.oneof({ weight: 8, arbitrary: fc.constantFrom("data", "db", "conf", "x.y", "./cache", "a/b", "@x+y") }, { weight: 1, arbitrary: fc.constantFrom("data/sub", ".", "a") }),
    target: containerPath,
    read_only: fc.boolean(),
    owner: fc.constantFrom("1000:1000", "0:0"),
  },
  { requiredKeys: ["source", "target"] },
);
const health = fc.record(
  {
    cmd: fc.oneof(
      text(1, 8).filter((s) => s !== ""),
      // Exec form: a program name, then any words (the schema refuses an empty or CMD-like first word).
      fc.tuple(text(1, 3).filter((s) => s.trim() !== ""), fc.array(text(0, 3), { maxLength: 3 })).map(([p, rest]) => [p, ...rest]),
    ), interval: fc.constantFrom("30s", "1m30s", "500ms"), retries: fc.integer({ min: 1, max: 100 }) },
  { requiredKeys: ["cmd"] },
);
const containerFields = fc.record(
  {
    entrypoint: fc.array(text(0, 4), { minLength: 1, maxLength: 3 }),
    command: fc.array(execWord, { minLength: 1, maxLength: 5 }),
    environment: fc.dictionary(envName, text(0, 6), { maxKeys: 5 }),
    volumes: fc.array(volume, { maxLength: 3 }),
    ports: fc.array(fc.record({ host: fc.integer({ min: 1, max: 65535 }), container: fc.integer({ min: 1, max: 65535 }), protocol: fc.constantFrom("tcp", "udp") }), { maxLength: 2 }),
    healthcheck: health,
    user: fc.constantFrom("1000", "1000:1000", "nobody", "app_user:grp.1"),
    read_only: fc.boolean(),
    aliases: fc.array(fc.constantFrom("db", "cache", "api-1"), { maxLength: 2 }),
    stop_timeout: fc.integer({ min: 1, max: 3600 }),
    tmpfs: fc.array(containerPath, { maxLength: 2 }),
    memory: fc.constantFrom("512m", "2g", "64k"),
    pids_limit: fc.integer({ min: 1, max: 1_000_000 }),
    capabilities: fc.subarray(["NET_BIND_SERVICE", "CHOWN", "SETUID", "SETGID"]),
  },
  { requiredKeys: [] },
);
const source = fc.oneof({ weight: 6, arbitrary: image.map((i) => ({ image: i })) }, { weight: 1, arbitrary: fc.record({ build: fc.record({ context: fc.constant("ctx"), args: fc.dictionary(envName, text(0, 6), { maxKeys: 3 }) }) }) });
const container = fc.tuple(source, containerFields).map(([s, f]) => ({ ...s, ...f }));
const appValue = fc.record({
  name: display,
  version: fc.constantFrom("1.0", "2.3.4-beta", "0.21.2-beta", "29.2.knots20251110", "1.0+meta", "v1_2"),
  kind: fc.constantFrom("service", "ui"),
  description: display,
  containers: fc.dictionary(key, container, { minKeys: 1, maxKeys: 3 }),
});

/** A JSON value of any shape, for "wrong type" mutations. */
const junk = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1.5, 65536, "", [], {}),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.array(fc.nat(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.nat(), { maxKeys: 2 }),
);

type Mutation =
  | { kind: "drop"; at: number }
  | { kind: "extra"; at: number; key: string; value: unknown }
  | { kind: "retype"; at: number; value: unknown }
  | { kind: "poison"; at: number; poison: string; pos: number }
  | { kind: "path"; at: number; value: string }
  | { kind: "id"; value: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("drop" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("extra" as const), at: fc.nat(), key: fc.oneof(fc.constantFrom("imagee", "privileged", "cap_add", "__proto__", "<<"), fc.string({ maxLength: 6 })), value: junk }),
  fc.record({ kind: fc.constant("retype" as const), at: fc.nat(), value: junk }),
  fc.record({ kind: fc.constant("poison" as const), at: fc.nat(), poison: fc.constantFrom(...POISON, "\x1b", "\u202E"), pos: fc.nat() }),
  fc.record({ kind: fc.constant("path" as const), at: fc.nat(), value: fc.constantFrom("/etc", "/", "..", "a/../b", "../x", "/var/lib/archy/apps/other", "a//..", "a:b", "a b") }),
  fc.record({ kind: fc.constant("id" as const), value: fc.oneof(fc.constantFrom("", "-a", "A", "a/b", "..", "a..b", "x".repeat(49), "build", "network"), fc.string({ maxLength: 10 })) }),
);

/** Walk a value: every (parent, key) slot, in a stable order. */
function slots(v: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []): typeof out {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), slots(x, out)));
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) (out.push([v as Record<string, unknown>, k]), slots(x, out));
  return out;
}

function mutate(app: Raw, m: Mutation): void {
  const all = slots(app);
  const pick = <T>(xs: T[], n: number) => xs[n % xs.length]!;
  switch (m.kind) {
    case "drop": {
      const [p, k] = pick(all, m.at);
      if (Array.isArray(p)) p.splice(k as number, 1);
      else delete p[k as string];
      return;
    }
    case "extra": {
      const maps = [app, ...all.map(([p, k]) => (p as Record<string | number, unknown>)[k]).filter((x): x is Record<string, unknown> => !!x && typeof x === "object" && !Array.isArray(x))];
      Object.defineProperty(pick(maps, m.at), m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
      return;
    }
    case "retype": {
      const [p, k] = pick(all, m.at);
      (p as Record<string | number, unknown>)[k] = m.value;
      return;
    }
    case "poison": {
      const strings = all.filter(([p, k]) => typeof (p as Record<string | number, unknown>)[k] === "string");
      if (strings.length === 0) return;
      const [p, k] = pick(strings, m.at);
      const s = (p as Record<string | number, string>)[k]!;
      const at = m.pos % (s.length + 1);
      (p as Record<string | number, string>)[k] = s.slice(0, at) + m.poison + s.slice(at);
      return;
    }
    case "path": {
      const vols = all.filter(([p, k]) => k === "source" || k === "target" || k === "context" || (Array.isArray(p) && typeof p[k as number] === "string" && String(p[k as number]).startsWith("/")));
      if (vols.length === 0) return;
      const [p, k] = pick(vols, m.at);
      (p as Record<string | number, unknown>)[k] = m.value;
      return;
    }
    case "id":
      app.id = m.value;
  }
}

/** Text-level mutations of a valid manifest: YAML structure, not just values. */
const SNIPPETS = ["&a ", "*a", "!!js/function ", "!!python/object:os.system ", "<<: *a\n", "---\n", "? ", "|\n  x\n", "\t", "%YAML 1.1\n", "...\n", "{", "[", "- ", ": ", "'", '"', "#", "\n", "  ", "\\", "\uFEFF", "\u2028", "\x00", "\r\n", "~", "!!binary ", "&b [*b]\n", "\nx: &c [*c]\n", "\ny: &d {k: *d}\n"];
const textEdit = fc.record({ at: fc.nat(), len: fc.integer({ min: 0, max: 8 }), ins: fc.oneof(fc.constantFrom(...SNIPPETS), piece) });

type Case =
  | { mode: "structured"; app: Raw; mutations: Mutation[]; format: "json" | "yaml" | "flow"; build: boolean }
  | { mode: "text"; app: Raw; edits: { at: number; len: number; ins: string }[] }
  | { mode: "random"; text: string };

const fuzzCase: fc.Arbitrary<Case> = fc.oneof(
  {
    weight: 14,
    arbitrary: fc.record({
      mode: fc.constant("structured" as const),
      app: appValue as fc.Arbitrary<Raw>,
      // Most cases are well-formed (they must get through the whole pipeline); a third are broken on purpose.
      mutations: fc.oneof({ weight: 3, arbitrary: fc.constant([] as Mutation[]) }, { weight: 1, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) }),
      format: fc.constantFrom("json" as const, "yaml" as const, "flow" as const),
      build: fc.constant(false),
    }),
  },
  { weight: 4, arbitrary: fc.record({ mode: fc.constant("text" as const), app: appValue as fc.Arbitrary<Raw>, edits: fc.array(textEdit, { minLength: 1, maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ mode: fc.constant("random" as const), text: fc.oneof(fc.string({ unit: "binary", maxLength: 300 }), fc.array(fc.oneof(fc.constantFrom(...SNIPPETS), piece, fc.constantFrom("id: ", "containers:", "  web:", "    image: ", "kind: ui\n")), { maxLength: 40 }).map((a) => a.join(""))) }) },
);

// --- the run ----------------------------------------------------------------

interface Stats {
  seed: number;
  runs: number;
  tried: number;
  rejected: number;
  accepted: number;
  acceptedByQuadlet: number;
  quadletRuns: number;
  cliRuns: number;
  byMode: Record<string, { tried: number; accepted: number }>;
  ms: number;
  reasons: Record<string, number>;
}

const root = scratch("archy-fuzz-");
const stats: Stats = { seed: SEED, runs: RUNS, tried: 0, rejected: 0, accepted: 0, acceptedByQuadlet: 0, quadletRuns: 0, cliRuns: 0, byMode: {}, ms: 0, reasons: {} };
const pending: Pending[] = [];
const cliCases: { dir: string; accepted: boolean; planned: string[]; source: string }[] = [];
let counter = 0;

function serialize(c: Case, id: string): { text: string; raw?: Raw } {
  if (c.mode === "random") return { text: c.text };
  const app = { id, ...structuredClone(c.app) };
  if (c.mode === "structured") {
    for (const m of c.mutations) mutate(app, m);
    // Poison characters are escaped by JSON and YAML alike: the parser hands them back.
    const text = c.format === "json" ? JSON.stringify(app, null, 1) : c.format === "flow" ? stringify(app, { collectionStyle: "flow", lineWidth: 0 }) : stringify(app, { lineWidth: 0 });
    return { text, raw: app };
  }
  let text = stringify(app, { lineWidth: 0 });
  for (const e of c.edits) {
    const at = e.at % (text.length + 1);
    text = text.slice(0, at) + e.ins + text.slice(at + e.len);
  }
  return { text };
}

/** What the manifest says, read independently of the compiler's reader (for text-level cases). */
function yamlValue(text: string): Raw | undefined {
  const doc = parseDocument(text, { uniqueKeys: true, strict: true, version: "1.2", schema: "core", prettyErrors: false, logLevel: "error" });
  if (doc.errors.length || doc.warnings.length) return undefined;
  try {
    const v = doc.toJS({ maxAliasCount: 100 }) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Raw) : undefined;
  } catch {
    return undefined;
  }
}

/** One reusable catalog directory: each case writes its manifest, compiles, removes it. */
let work: string | undefined;

function fail(what: string, text: string): never {
  throw new Error(`${what}\n--- manifest ---\n${text}`);
}

function runCase(c: Case): void {
  const n = ++counter;
  const id = `f${n}x`;
  const { text } = serialize(c, id);
  // The file name follows the id the text carries, so a text-level case can still compile.
  const named = /^id: *"?([a-z0-9-]{1,48})"?\s*$/m.exec(text)?.[1] ?? id;
  work ??= writeCatalog(join(root, "work"), {}, ["ctx"]);
  const file = join(work, `${named}.yaml`);
  writeFileSync(file, text);
  const mode = c.mode;
  const m = (stats.byMode[mode] ??= { tried: 0, accepted: 0 });
  stats.tried++;
  m.tried++;
  try {
    let r;
    try {
      r = compileDir(work);
    } catch (e) {
      fail(`compile threw ${(e as Error).stack}`, text);
    }
    const bad = diagnosticProblems(r);
    if (bad.length > 0) fail(`bad diagnostics: ${bad.join("; ")}`, text);
    const accepted = r.diagnostics.length === 0;
    if (accepted) {
      stats.accepted++;
      m.accepted++;
      // What podman must receive, from the file as YAML reads it (not from the compiler's model).
      const said = yamlValue(readFileSync(file, "utf8"));
      if (!said) fail("the compiler accepted a manifest yaml cannot read", text);
      if (r.files.length === 0) fail("accepted, but no files", text);
      pending.push(pendingOf(`case ${n} (${mode})`, r, said, text));
    } else {
      stats.rejected++;
      if (r.files.length > 0) fail("diagnostics and files at once", text);
      // Why cases are rejected, by the first diagnostic's message shape.
      const why = (r.diagnostics[0]!.message.split(/[:(]/)[0] ?? "")
        .replace(/"[^"]*"/g, '"…"')
        .replace(/containers\.[^.\s]+\./g, "containers.*.")
        .replace(/\[\d+\]/g, "[n]")
        .slice(0, 70);
      stats.reasons[why] = (stats.reasons[why] ?? 0) + 1;
    }
    if (n % CLI_EVERY === 0) {
      const dir = writeCatalog(join(root, String(n)), { [`${named}.yaml`]: readFileSync(file) }, ["ctx"]);
      cliCases.push({ dir, accepted, planned: r.files.map((f) => f.path).sort(), source: text });
    }
  } finally {
    rmSync(file, { force: true });
  }
}

function keepFailure(label: string, source: string, problems: string[]): void {
  mkdirSync(FAILURES, { recursive: true });
  writeFileSync(join(FAILURES, `${label.replace(/[^a-z0-9]+/gi, "-")}.yaml`), `# ${problems.join("\n# ").replace(/\n(?!#)/g, "\n# ")}\n${source}`);
}

describe(`fuzz: ${RUNS} generated manifests through compile, the CLI and the real quadlet (seed ${SEED})`, () => {
  const t0 = Date.now();
  afterAll(() => {
    stats.ms = Date.now() - t0;
    stats.reasons = Object.fromEntries(Object.entries(stats.reasons).sort((a, b) => b[1] - a[1]));
    writeFileSync(STATS, JSON.stringify(stats, null, 2) + "\n");
    console.log(
      `fuzz (seed ${SEED}): tried ${stats.tried}, rejected ${stats.rejected}, accepted ${stats.accepted}, accepted by real quadlet ${stats.acceptedByQuadlet} ` +
        `(${stats.quadletRuns} quadlet runs), CLI runs ${stats.cliRuns}, ${stats.ms} ms`,
    );
    rmSync(root, { recursive: true, force: true });
  });

  it("every case ends in diagnostics or in files; nothing throws; diagnostics are clean one-liners", () => {
    fc.assert(
      fc.property(fuzzCase, (c) => runCase(c)),
      { numRuns: RUNS, seed: SEED },
    );
    expect(stats.tried).toBe(RUNS);
    // The generators must keep the pipeline busy on both sides.
    if (RUNS >= 1000) {
      expect(stats.accepted / stats.tried, JSON.stringify(stats.byMode)).toBeGreaterThan(0.3);
      expect(stats.rejected / stats.tried).toBeGreaterThan(0.2);
    }
  }, 600_000);

  it("the real quadlet accepts every accepted case, and podman's argv holds every value exactly as written (batched)", () => {
    if (existsSync(FAILURES)) rmSync(FAILURES, { recursive: true, force: true });
    const res = checkWithQuadlet(pending, 100);
    stats.acceptedByQuadlet = res.passed;
    stats.quadletRuns = res.runs;
    for (const f of res.failures) keepFailure(f.label, f.source, f.problems);
    const shown = res.failures.slice(0, 5).map((f) => `${f.label}:\n  ${f.problems.slice(0, 6).join("\n  ")}\n--- manifest ---\n${f.source}`);
    expect(res.failures.length, `${res.failures.length} accepted cases fail through quadlet (kept in ${FAILURES}):\n${shown.join("\n")}`).toBe(0);
    expect(res.checked).toBe(pending.length);
    expect(res.checked).toBeGreaterThanOrEqual(Math.min(500, stats.accepted));
    if (RUNS >= 2000) expect(res.checked).toBeGreaterThanOrEqual(500);
  }, 600_000);

  it(`one case in ${CLI_EVERY} through \`generate\`: exit 2 + diagnostics + an untouched --out, or exit 0 + exactly the planned files`, async () => {
    for (const c of cliCases) {
      const out = join(c.dir, "..", "out");
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, "keep.txt"), "untouched\n");
      const r = await cli(["generate", "--manifests", c.dir, "--out", out]);
      stats.cliRuns++;
      const ctx = `${r.stderr}\n--- manifest ---\n${c.source}`;
      expect(r.stderr, ctx).not.toMatch(/^\s+at |internal error/m);
      if (c.accepted) {
        expect(r.code, ctx).toBe(0);
        expect(listFiles(out), ctx).toEqual(["keep.txt", ...c.planned].sort());
      } else {
        expect(r.code, ctx).toBe(2);
        expect(r.stdout).toBe("");
        const lines = r.stderr.split("\n").filter(Boolean);
        expect(lines.at(-1), ctx).toMatch(/^\d+ errors?; nothing written$/);
        for (const l of lines.slice(0, -1)) expect(l, ctx).toMatch(/: error: /);
        expect(listFiles(out), ctx).toEqual(["keep.txt"]);
        expect(readFileSync(join(out, "keep.txt"), "utf8")).toBe("untouched\n");
      }
    }
    expect(stats.cliRuns).toBe(cliCases.length);
  });
});
