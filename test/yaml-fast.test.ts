// The manifest fast path (src/manifest/yaml-fast.ts) against the real parser:
// whenever it returns a value, `yaml` must accept the text without error or
// warning and produce exactly that value; returning undefined is always allowed.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDocument } from "yaml";
import { parseSimpleYaml } from "../src/manifest/yaml-fast.js";
import { synthCatalog } from "../bench/synth.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));

function full(text: string): { ok: true; value: unknown } | { ok: false } {
  // The options src/manifest/read.ts parses with.
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, strict: true, version: "1.2", schema: "core" });
  if (doc.errors.length > 0 || doc.warnings.length > 0) return { ok: false };
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
  } catch {
    return { ok: false };
  }
}

/** Deep equality that also compares key order, prototypes, -0 and NaN. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a === "number") return Object.is(a, b);
  if (a === null || b === null || typeof a !== "object") return a === b;
  if (Array.isArray(a) !== Array.isArray(b) || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** undefined when the two agree, else a description of the disagreement. */
function disagreement(text: string): string | undefined {
  const fast = parseSimpleYaml(text);
  if (fast === undefined) return undefined;
  const ref = full(text);
  if (!ref.ok) return `fast path accepted a document yaml rejects:\n${text}`;
  if (!same(fast, ref.value)) return `values differ:\n${text}\nfast: ${JSON.stringify(fast)}\nyaml: ${JSON.stringify(ref.value)}`;
  return undefined;
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (n === "node_modules" || n.startsWith(".")) continue;
      if (statSync(p).isDirectory()) visit(p);
      else if (/\.ya?ml$/.test(n)) out.push(p);
    }
  };
  visit(dir);
  return out.sort();
}

const corpus = [...yamlFiles(join(root, "manifests")), ...yamlFiles(join(root, "test")), ...yamlFiles(join(root, "examples"))].map((p) => ({
  name: relative(root, p),
  text: readFileSync(p, "utf8"),
}));

describe("yaml fast path", () => {
  it("agrees with yaml on every YAML file in the repo", () => {
    for (const { name, text } of corpus) expect(disagreement(text), name).toBeUndefined();
  });

  it("takes the fast path for the catalog and the synthetic catalogs", () => {
    const catalog = corpus.filter((f) => f.name.startsWith("manifests/"));
    const slow = catalog.filter((f) => parseSimpleYaml(f.text) === undefined).map((f) => f.name);
    // Not a correctness rule: a manifest may use YAML outside the subset and just parse slower.
    expect(slow.length, `catalog manifests outside the fast subset: ${slow.join(", ")}`).toBeLessThanOrEqual(Math.floor(catalog.length / 5));
    for (const [name, text] of synthCatalog(300).files) {
      if (!name.endsWith(".yaml")) continue;
      expect(parseSimpleYaml(text), name).toBeDefined();
      expect(disagreement(text), name).toBeUndefined();
    }
  });

  it("falls back on what it does not handle", () => {
    const fallbacks = [
      "a: |\n  text\n",
      "a: >\n  text\n",
      "a: &x 1\nb: *x\n",
      "a: !!str 1\n",
      "%YAML 1.2\n---\na: 1\n",
      "---\na: 1\n",
      "a: 1\na: 2\n",
      "a:\n- x\n",
      "a: b\n  c\n",
      "a:\n  multi line\n",
      "a: [1,\n  2]\n",
      "a: 'x\n  y'\n",
      "\ta: 1\n",
      "a: 1\r\nb: 2\r\n",
      "? a\n: b\n",
      "a: b: c\n",
      "- a\n",
      "  a: 1\n",
      "__proto__: 1\n",
      "true: 1\n",
      "1: a\n",
      '"a": 1\n',
      "a: {b}\n",
      "a: {b:c}\n",
      "a: [b: c]\n",
      'a: "\\q"\n',
      "a: x #c\n  b: 1\n",
      "",
      "# only a comment\n",
    ];
    for (const text of fallbacks) expect(parseSimpleYaml(text), JSON.stringify(text)).toBeUndefined();
  });

  it("parses what it handles exactly like yaml", () => {
    const cases = [
      "a: 1\nb: -0\nc: 0o17\nd: 0x1F\ne: 1e3\nf: .5\ng: .inf\nh: -.Inf\ni: .nan\nj: 1_000\nk: 007\nl: +1\nm: 2.4.2\nn: 1.\n",
      "a: ~\nb: null\nc: Null\nd: NULL\ne: true\nf: False\ng: yes\nh: no\ni: on\nj:\nk: # nothing\n",
      "a: 'it''s'\nb: \"q\\\"\\\\\\n\\t\\x41\\u00e9\\U0001F600\\0\\_\"\nc: ''\nd: \"\"\n",
      "a: b#c\nd: e #f\ng: h:i\nj: http://x:1/y\nk: a, b\nl: -c\nm: --flag=1\nn: x\u00a0\no: é ü\n",
      "list:\n  - a\n  - { b: 1, c: [x, y, 'z'], d: {} }\n  - []\n  -\n    e: 1\n  - f: 2\n    g:\n      - h\n  -   i: 3\n      j: 4\n  - # c\n",
      "env:\n    A_B: \"x y\"\n    constructor: 1\n    toString: 2\n",
      "a: [ a , b c ,]\nb: { k: v, }\n",
    ];
    for (const text of cases) {
      expect(parseSimpleYaml(text), text).toBeDefined();
      expect(disagreement(text)).toBeUndefined();
    }
  });

  // Random documents from a YAML-ish grammar with hostile scalars and keys,
  // rendered in random styles; most take the fast path, some fall back.
  const scalars = [
    "a", "abc def", "null", "Null", "~", "", "true", "False", "yes", "1", "-1", "+1", "0", "-0", "007", "0o17", "0o8", "0x1F", "0X1F",
    "1.5", "1.", ".5", "-.5", "1e3", "1E-3", "+1.5e+3", ".inf", "-.Inf", ".NaN", ".nan", "1_000", "2.4.2", "0.0.0.0:8080", "http://x:1/",
    "a:b", "a: b", "a:", ":a", "-a", "- a", "-", "?a", "#a", "a #b", "a#b", "a,b", "a]", "[a", "{a", "a}", "'a", "a'b", '"a', 'a"b',
    "&a", "*a", "!a", "|", ">", "%a", "@a", "`a", "a\\b", "é", "\u00a0a", "a\u00a0", "\u2028", "\u0085", " a", "a ", "a  b", "--flag", "x=1;y=2",
  ];
  const keys = ["a", "b", "key", "k-1", "_x", "Ab9", "null", "true", "1", "a b", "a:b", "__proto__", "constructor", "toString", "é", "~", "-a", "a.b", '"q"'];
  type Tree = string | Tree[] | [string, Tree][];
  const tree: fc.Arbitrary<Tree> = fc.letrec<{ node: Tree }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constantFrom(...scalars),
      fc.array(tie("node"), { maxLength: 4 }).map((xs) => xs as Tree),
      fc.array(fc.tuple(fc.constantFrom(...keys), tie("node")), { maxLength: 4 }).map((ps) => ({ map: ps }) as unknown as Tree),
    ),
  })).node;
  const isMap = (t: Tree): t is [string, Tree][] => typeof t === "object" && !Array.isArray(t);
  const entries = (t: Tree) => (t as unknown as { map: [string, Tree][] }).map;

  function render(t: Tree, choices: number[]): string {
    let c = 0;
    const pick = (n: number) => (choices.length ? choices[c++ % choices.length]! % n : 0);
    const scalar = (s: string) => {
      switch (pick(4)) {
        case 0:
          return JSON.stringify(s);
        case 1:
          return `'${s.replace(/'/g, "''")}'`;
        default:
          return s;
      }
    };
    const inline = (v: Tree): string =>
      typeof v === "string" ? scalar(v) : isMap(v) ? `{ ${entries(v).map(([k, x]) => `${k}: ${inline(x)}`).join(", ")}${pick(5) === 0 ? "," : ""} }` : `[${v.map(inline).join(", ")}]`;
    const comment = () => (pick(6) === 0 ? " # note" : "");
    const block = (v: Tree, indent: number): string[] => {
      const pad = " ".repeat(indent);
      const step = 1 + pick(4);
      if (isMap(v)) {
        return entries(v).flatMap(([k, x]) => {
          if (typeof x === "string" || pick(3) === 0 || (Array.isArray(x) ? x.length === 0 : entries(x).length === 0)) return [`${pad}${k}:${" ".repeat(1 + pick(2))}${inline(x)}${comment()}`];
          return [`${pad}${k}:${comment()}`, ...(pick(8) === 0 ? ["", `${pad}# between`] : []), ...block(x, indent + step)];
        });
      }
      if (Array.isArray(v)) {
        return v.flatMap((x) => {
          if (typeof x === "string" || pick(3) === 0) return [`${pad}- ${inline(x)}${comment()}`];
          if (isMap(x) && entries(x).length > 0 && pick(2) === 0) {
            const [first, ...rest] = block(x, indent + 2);
            return [`${pad}- ${first!.slice(indent + 2)}`, ...rest];
          }
          return [`${pad}-${comment()}`, ...block(x, indent + step)];
        });
      }
      return [`${pad}${scalar(v)}`];
    };
    const doc = isMap(t) ? t : ({ map: [["root", t]] } as unknown as Tree);
    return `${block(doc, 0).join("\n")}\n`;
  }

  it("agrees with yaml on random documents", () => {
    fc.assert(
      fc.property(tree, fc.array(fc.nat(), { minLength: 1, maxLength: 40 }), (t, choices) => {
        const text = render(t, choices);
        const d = disagreement(text);
        if (d) throw new Error(d);
      }),
      { numRuns: 3000 },
    );
  });

  it("agrees with yaml on random edits of real manifests", () => {
    const texts = corpus.filter((f) => f.name.startsWith("manifests/") || f.name.includes("fixtures/good")).map((f) => f.text);
    const alphabet = [..." \n-:#'\"[]{},&*!|>%@`?~\\.0aé\u00a0\t\r"];
    const edit = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 3 }), fc.constantFrom(...alphabet));
    fc.assert(
      fc.property(fc.constantFrom(...texts), fc.array(edit, { minLength: 1, maxLength: 4 }), (text, edits) => {
        let s = text;
        for (const [at, kind, ch] of edits) {
          const i = at % (s.length + 1);
          if (kind === 0) s = s.slice(0, i) + ch + s.slice(i); // insert
          else if (kind === 1) s = s.slice(0, i) + s.slice(i + 1); // delete
          else if (kind === 2) s = s.slice(0, i) + ch + s.slice(i + 1); // replace
          else {
            const lines = s.split("\n"); // re-indent a line
            const l = at % lines.length;
            lines[l] = " ".repeat(at % 5) + lines[l]!.trimStart();
            s = lines.join("\n");
          }
        }
        const d = disagreement(s);
        if (d) throw new Error(d);
      }),
      { numRuns: 4000 },
    );
  });
});
