// Reading an ExecStart= value back into the argv a process receives, as systemd
// does (config_parse_exec → extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE),
// then specifier and environment expansion). The one splitter: explain shows
// podman's argv with it, the tests check quadlet's output with it.
//
// By code point: an emoji is one character to systemd, two UTF-16 units to JS,
// and splitting it in half would print U+FFFD twice.

/** A value systemd would refuse, or would not run as one command. */
export class ExecSyntaxError extends Error {}

const WS = new Set([" ", "\t", "\n", "\r"]);
const SIMPLE: Record<string, number> = { a: 0x07, b: 0x08, f: 0x0c, n: 0x0a, r: 0x0d, t: 0x09, v: 0x0b, "\\": 0x5c, '"': 0x22, "'": 0x27, s: 0x20 };
const utf8 = (c: string) => [...Buffer.from(c, "utf8")];
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The words of an ExecStart= value. Throws ExecSyntaxError where systemd would
 * refuse the line or start a second command: a bare `;` (a lone `\;` is the
 * literal word ";"), NUL (literal or escaped), a bad escape, an open quote,
 * bytes that are not UTF-8.
 */
export function splitExec(value: string): string[] {
  const chars = Array.from(value);
  const at = (j: number) => chars[j] ?? "";
  const endsWord = (j: number) => j >= chars.length || WS.has(at(j));
  const words: string[] = [];
  let i = 0;
  for (;;) {
    while (i < chars.length && WS.has(at(i))) i++;
    if (i >= chars.length) return words;
    if (at(i) === ";" && endsWord(i + 1)) throw new ExecSyntaxError(`bare ';' at character ${i}: systemd would start a second command`);
    if (at(i) === "\\" && at(i + 1) === ";" && endsWord(i + 2)) {
      words.push(";");
      i += 2;
      continue;
    }
    const bytes: number[] = [];
    let quote = "";
    for (; i < chars.length; i++) {
      const c = at(i);
      if (c === "\0") throw new ExecSyntaxError("NUL character");
      if (c === "\\") {
        const [b, len] = cunescapeOne(chars, i + 1);
        bytes.push(...b);
        i += len;
      } else if (quote) {
        if (c === quote) quote = "";
        else bytes.push(...utf8(c));
      } else if (c === '"' || c === "'") quote = c;
      else if (WS.has(c)) break;
      else bytes.push(...utf8(c));
    }
    if (quote) throw new ExecSyntaxError(`unterminated ${quote} quote`);
    try {
      words.push(strictUtf8.decode(Buffer.from(bytes)));
    } catch {
      throw new ExecSyntaxError("escapes produce bytes that are not UTF-8");
    }
  }
}

/** systemd's cunescape_one for the escape after a backslash at `p`: its bytes and the characters consumed. */
function cunescapeOne(chars: readonly string[], p: number): [number[], number] {
  const c = chars[p];
  const take = (from: number, n: number) => chars.slice(from, from + n).join("");
  if (c === undefined) throw new ExecSyntaxError("backslash at the end of the line");
  if (SIMPLE[c] !== undefined) return [[SIMPLE[c]!], 1];
  const hex = (n: number) => {
    const h = take(p + 1, n);
    if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) throw new ExecSyntaxError(`bad \\${c} escape`);
    const v = parseInt(h, 16);
    if (v === 0) throw new ExecSyntaxError("escaped NUL");
    return v;
  };
  if (c === "x") return [[hex(2)], 3];
  if (c === "u" || c === "U") {
    const v = hex(c === "u" ? 4 : 8);
    if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) throw new ExecSyntaxError(`\\${c} escape is not a Unicode scalar value`);
    return [utf8(String.fromCodePoint(v)), c === "u" ? 5 : 9];
  }
  if (/^[0-7]$/.test(c)) {
    const o = take(p, 3);
    const v = parseInt(o, 8);
    if (!/^[0-7]{3}$/.test(o) || v === 0 || v > 255) throw new ExecSyntaxError("bad octal escape");
    return [[v], 3];
  }
  throw new ExecSyntaxError(`invalid escape \\${c}`);
}

/**
 * What to do with a `%x` specifier or `$VAR` systemd would expand at start:
 * "keep" it as written (explain shows the command as configured), or "refuse"
 * it (the tests: the compiler must have escaped every % and $ it wrote).
 */
export type Expansions = "keep" | "refuse";

// Words quadlet itself writes with specifiers in them: systemd expands these on purpose.
const QUADLET_OWN = new Set(["--cidfile=%t/%N.cid"]);

/**
 * An ExecStart= value as the argv the process receives: systemd's prefixes
 * (- @ : + !) stripped, the words split, then %% → % and $$ → $.
 */
export function execArgv(value: string, expansions: Expansions = "keep"): string[] {
  const v = value.replace(/^[-@:+!]+/, "");
  return splitExec(v).map((w) => (QUADLET_OWN.has(w) ? w : unescapeWord(w, expansions)));
}

// Specifiers first (unit_full_printf, when the unit loads), then $ (replace_env_argv, at start).
function unescapeWord(w: string, expansions: Expansions): string {
  return unescape(unescape(w, "%", expansions), "$", expansions);
}

function unescape(w: string, sign: "%" | "$", expansions: Expansions): string {
  return w.replace(sign === "%" ? /%([\s\S]?)/g : /\$([\s\S]?)/g, (m, next: string) => {
    if (next === sign) return sign;
    if (expansions === "keep") return m;
    throw new ExecSyntaxError(`systemd would expand "${m}" in argv word ${JSON.stringify(w)}`);
  });
}

/**
 * Split `podman <verb> [options] IMAGE [command…]` into the program and verb, one
 * group per option (the flag and the words after it up to the next flag), and the
 * image with its command. `image` is the word that ends the options.
 */
export function argvGroups(argv: readonly string[], image: string): { head: string[]; options: string[][]; tail: string[] } {
  const at = argv.lastIndexOf(image);
  const end = at >= 2 ? at : argv.length;
  const options: string[][] = [];
  for (const w of argv.slice(2, end)) {
    if (w.startsWith("-") || options.length === 0) options.push([w]);
    else options[options.length - 1]!.push(w);
  }
  return { head: argv.slice(0, 2), options, tail: argv.slice(end) };
}

/**
 * Options in a canonical order: sorted by flag, repeated flags keeping their order.
 * Quadlet (5.4) emits some options in Go map order, which changes from run to run;
 * podman parses options order-independently, so this is the same command, and
 * explain's output stays diffable between runs and releases.
 */
export function canonicalArgv(argv: readonly string[], image: string): string[] {
  const g = argvGroups(argv, image);
  const flag = (o: string[]) => o[0]!.split("=")[0]!;
  const byFlag = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const options = g.options.map((o, i) => ({ o, i })).sort((a, b) => byFlag(flag(a.o), flag(b.o)) || a.i - b.i);
  return [...g.head, ...options.flatMap((x) => x.o), ...g.tail];
}
