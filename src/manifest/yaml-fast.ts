// A fast path for reading manifests: the plain, common subset of YAML that app
// manifests are written in, parsed straight to values. For a document inside
// the subset the result is exactly what `yaml` (version 1.2, core schema,
// uniqueKeys, strict) gives via parseDocument(...).toJS(), and that parse would
// report no error or warning; for anything else — or anything unsure — it
// returns undefined and the caller uses the full parser, which also owns every
// diagnostic and every source position.
//
// Why: `yaml` is a complete, position-tracking parser built on generators. On a
// cold process it cost ~3 ms per manifest (half of `generate` on the catalog)
// and ~0.5 ms warm (40% of a 1,000-app compile). This is a line-oriented
// recursive descent over ~one regex per line.
//
// The subset: spaces-only indentation; a block mapping at the root; block
// mappings and block sequences (`- x`, `- key: v` compact mappings); one-line
// flow collections `{ a: b, c: [d, e] }`; plain, 'single' and "double" quoted
// one-line scalars; comments. Anything else — tabs, CR, anchors, aliases, tags,
// block scalars (| >), multi-line scalars or flows, directives, document
// markers, duplicate or non-identifier keys, `?`/`:`-led scalars — falls back.
// test/yaml-fast.test.ts checks it differentially against `yaml`.

class Fallback extends Error {}
const fail = (): never => {
  throw new Fallback();
};

// Characters the subset never handles: tabs, CR, other C0/C1 controls, DEL, BOM,
// non-characters. (Their YAML meaning is either an error or needs the full parser.)
const UNSUPPORTED_CHARS = /[\x00-\x09\x0B-\x1F\x7F-\x9F\uFEFF\uFFFE\uFFFF]/;

// A key: an identifier-like word that the core schema resolves to a string.
const KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const KEY_AT_LINE = /^([A-Za-z_][A-Za-z0-9_-]*):(?: +|$)/;
const FLOW_KEY = /([A-Za-z_][A-Za-z0-9_-]*): +/y;
const RESERVED_KEYS = new Set(["null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "__proto__"]);
const MAX_KEY_LENGTH = 1000; // yaml limits implicit keys to 1024 characters
const MAX_INDENT = 256;

// A plain scalar must not start with an indicator (`-` only before a non-space).
const BAD_PLAIN_START = new Set([..."?:,[]{}#&*!|>'\"%@`"]);

// YAML 1.2 core schema, in `yaml`'s order (null, bool, int 0o, int, int 0x, nan/inf, exp, float).
const NULL_RE = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL_RE = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT_RE = /^0o[0-7]+$/;
const INT_RE = /^[-+]?[0-9]+$/;
const INT_HEX_RE = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN_RE = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP_RE = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT_RE = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

// Every non-string resolution above starts with one of these (or is empty).
const MAYBE_NOT_STRING = /^(?:$|[-+.0-9~nNtTfF])/;

function resolvePlain(s: string): unknown {
  if (!MAYBE_NOT_STRING.test(s)) return s;
  if (NULL_RE.test(s)) return null;
  if (BOOL_RE.test(s)) return s[0] === "t" || s[0] === "T";
  if (INT_OCT_RE.test(s)) return parseInt(s.substring(2), 8);
  if (INT_RE.test(s)) return parseInt(s, 10);
  if (INT_HEX_RE.test(s)) return parseInt(s.substring(2), 16);
  if (FLOAT_NAN_RE.test(s)) return s.slice(-3).toLowerCase() === "nan" ? NaN : s[0] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (FLOAT_EXP_RE.test(s) || FLOAT_RE.test(s)) return parseFloat(s);
  return s;
}

const ESCAPES: Record<string, string> = {
  "0": "\0",
  a: "\x07",
  b: "\b",
  e: "\x1b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  N: "\u0085",
  _: "\u00a0",
  L: "\u2028",
  P: "\u2029",
  " ": " ",
  '"': '"',
  "/": "/",
  "\\": "\\",
};
const HEX_LENGTH: Record<string, number> = { x: 2, u: 4, U: 8 };
const HEX_RE = /^[0-9a-fA-F]+$/;

/** Trailing spaces only: String#trimEnd would also eat NBSP and friends, which YAML keeps. */
function trimSpaces(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 32) end--;
  return end === s.length ? s : s.slice(0, end);
}

function checkKey(key: string): string {
  if (!KEY.test(key) || RESERVED_KEYS.has(key) || key.length > MAX_KEY_LENGTH) fail();
  return key;
}

function checkPlain(s: string, flow: boolean): string {
  if (s === "") fail();
  const c = s[0]!;
  if (BAD_PLAIN_START.has(c) || (c === "-" && (s.length === 1 || s[1] === " "))) fail();
  // `: ` would start a nested mapping; flow indicators and `#` are left to the full parser.
  if (s.includes(": ") || s.endsWith(":") || /[[\]{}]/.test(s)) fail();
  if (flow && (s.includes(":") || s.includes("#"))) fail();
  return s;
}

/** One-line scalars and flow collections, starting at `pos` of `line`. */
class Inline {
  pos = 0;
  constructor(private readonly s: string) {}

  /** A whole block-context value: the rest of the line, then only spaces or a comment. */
  static value(s: string): unknown {
    const c = s[0];
    if (c === '"' || c === "'" || c === "[" || c === "{") {
      const p = new Inline(s);
      const v = c === '"' ? p.double() : c === "'" ? p.single() : p.flow();
      p.end();
      return v;
    }
    // Plain: up to a comment (` #`), trailing spaces trimmed.
    const hash = s.indexOf(" #");
    return resolvePlain(checkPlain(trimSpaces(hash === -1 ? s : s.slice(0, hash)), false));
  }

  private end(): void {
    const rest = this.s.slice(this.pos);
    if (rest !== "" && !/^ +(#.*)?$/.test(rest)) fail();
  }

  private spaces(): void {
    while (this.s[this.pos] === " ") this.pos++;
  }

  private double(): string {
    const s = this.s;
    let out = "";
    let i = this.pos + 1;
    for (;;) {
      const ch = s[i];
      if (ch === undefined) fail();
      if (ch === '"') break;
      if (ch === "\\") {
        const next = s[i + 1];
        if (next === undefined) fail();
        const esc = ESCAPES[next!];
        if (esc !== undefined) {
          out += esc;
          i += 2;
          continue;
        }
        const len = HEX_LENGTH[next!];
        if (len === undefined) fail();
        const hex = s.substr(i + 2, len!);
        if (hex.length !== len || !HEX_RE.test(hex)) fail();
        const code = parseInt(hex, 16);
        if (code > 0x10ffff) fail();
        out += String.fromCodePoint(code);
        i += 2 + len!;
        continue;
      }
      out += ch;
      i++;
    }
    this.pos = i + 1;
    return out;
  }

  private single(): string {
    const s = this.s;
    let out = "";
    let i = this.pos + 1;
    for (;;) {
      const ch = s[i];
      if (ch === undefined) fail();
      if (ch === "'") {
        if (s[i + 1] === "'") {
          out += "'";
          i += 2;
          continue;
        }
        break;
      }
      out += ch;
      i++;
    }
    this.pos = i + 1;
    return out;
  }

  /** A flow item: quoted, nested flow, or plain up to `,` `]` `}`. */
  private item(): unknown {
    const c = this.s[this.pos];
    if (c === '"') return this.double();
    if (c === "'") return this.single();
    if (c === "[" || c === "{") return this.flow();
    const start = this.pos;
    while (this.pos < this.s.length && !",]}[{".includes(this.s[this.pos]!)) this.pos++;
    return resolvePlain(checkPlain(trimSpaces(this.s.slice(start, this.pos)), true));
  }

  private flow(): unknown {
    const open = this.s[this.pos];
    const close = open === "[" ? "]" : "}";
    this.pos++;
    const seq: unknown[] = [];
    const map: Record<string, unknown> = {};
    for (;;) {
      this.spaces();
      if (this.s[this.pos] === close) break;
      if (open === "[") seq.push(this.item());
      else {
        FLOW_KEY.lastIndex = this.pos;
        const m = FLOW_KEY.exec(this.s);
        if (!m) fail();
        const key = checkKey(m![1]!);
        if (Object.prototype.hasOwnProperty.call(map, key)) fail();
        this.pos = FLOW_KEY.lastIndex;
        const c = this.s[this.pos];
        if (c === undefined || c === "," || c === "}" || c === "]") fail();
        map[key] = this.item();
      }
      this.spaces();
      const c = this.s[this.pos];
      if (c === ",") {
        this.pos++;
        continue;
      }
      if (c !== close) fail();
      break;
    }
    this.pos++;
    return open === "[" ? seq : map;
  }
}

interface Line {
  indent: number;
  text: string;
}

class Block {
  i = 0;
  constructor(private readonly lines: Line[]) {}

  private get cur(): Line | undefined {
    return this.lines[this.i];
  }

  /** The root: a block mapping at column 0 that uses every line. */
  root(): Record<string, unknown> {
    if (this.cur?.indent !== 0) fail();
    const v = this.map(0);
    if (this.i !== this.lines.length) fail();
    return v;
  }

  private isSeqLine(l: Line | undefined, indent: number): boolean {
    return l !== undefined && l.indent === indent && (l.text === "-" || l.text.startsWith("- "));
  }

  /** The value after `key:` / `-` with nothing on its line: a deeper block, or null. */
  private nested(indent: number): unknown {
    const next = this.cur;
    if (next && next.indent > indent) return this.isSeqLine(next, next.indent) ? this.seq(next.indent) : this.map(next.indent);
    return null;
  }

  private map(indent: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (let l = this.cur; l && l.indent === indent; l = this.cur) {
      const m = KEY_AT_LINE.exec(l.text);
      if (!m) fail();
      const key = checkKey(m![1]!);
      if (Object.prototype.hasOwnProperty.call(out, key)) fail();
      const rest = l.text.slice(m![0].length);
      this.i++;
      if (rest === "" || rest[0] === "#") {
        // `key:` then a sequence at the same column is valid YAML, but not in the subset.
        if (this.isSeqLine(this.cur, indent)) fail();
        out[key] = this.nested(indent);
      } else {
        out[key] = Inline.value(rest);
        if (this.cur && this.cur.indent > indent) fail(); // a multi-line scalar or flow
      }
    }
    return out;
  }

  private seq(indent: number): unknown[] {
    const out: unknown[] = [];
    for (let l = this.cur; this.isSeqLine(l, indent); l = this.cur) {
      let k = 1;
      while (l!.text[k] === " ") k++;
      const rest = l!.text.slice(k);
      if (rest === "" || rest[0] === "#") {
        this.i++;
        out.push(this.nested(indent));
      } else if (rest === "-" || rest.startsWith("- ")) {
        fail(); // a compact nested sequence
      } else if (KEY_AT_LINE.test(rest)) {
        // `- key: v` opens a mapping at the column of `key`.
        this.lines[this.i] = { indent: indent + k, text: rest };
        out.push(this.map(indent + k));
      } else {
        this.i++;
        out.push(Inline.value(rest));
        if (this.cur && this.cur.indent > indent) fail();
      }
    }
    return out;
  }
}

/**
 * The value `yaml` would produce for `text`, when `text` is inside the subset
 * this parser handles (and is a mapping); otherwise undefined.
 */
export function parseSimpleYaml(text: string): Record<string, unknown> | undefined {
  if (UNSUPPORTED_CHARS.test(text)) return undefined;
  const lines: Line[] = [];
  for (const raw of text.split("\n")) {
    let indent = 0;
    while (raw.charCodeAt(indent) === 32) indent++;
    const rest = raw.slice(indent);
    if (rest === "" || rest[0] === "#") continue;
    // Far deeper than any manifest: yaml itself runs out of stack a few hundred levels down.
    if (indent > MAX_INDENT) return undefined;
    // Directives and document markers belong to the full parser.
    if (indent === 0 && (rest[0] === "%" || rest.startsWith("---") || rest.startsWith("..."))) return undefined;
    lines.push({ indent, text: trimSpaces(rest) });
  }
  try {
    return new Block(lines).root();
  } catch (e) {
    // A stack overflow (a 20 KB `[[[[…]]]]` nests 10,000 deep) is the full parser's to report.
    if (e instanceof Fallback || e instanceof RangeError) return undefined;
    throw e;
  }
}
