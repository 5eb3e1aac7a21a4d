// One unit-file model and one serializer, after podman's pkg/systemd/parser:
// ordered sections, each an ordered list of Key=value lines, repeated keys as
// repeated lines. Every escaping decision lives in this file.

export interface UnitLine {
  key: string;
  value: string;
}

export interface UnitSection {
  name: string;
  lines: UnitLine[];
}

/** A value that cannot be written safely; the caller turns it into a diagnostic. */
export class UnitValueError extends Error {}

const FORBIDDEN = /[\n\r\0]/;
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkLine(key: string, v: string, execContext = false): void {
  if (FORBIDDEN.test(v)) {
    const what = v.includes("\0") ? "NUL" : v.includes("\n") ? "newline" : "carriage return";
    throw new UnitValueError(`${key}= value contains a ${what} character, which a unit file cannot carry`);
  }
  // Written as UTF-8 it would silently become U+FFFD.
  if (UNPAIRED_SURROGATE.test(v)) throw new UnitValueError(`${key}= value contains an unpaired surrogate, which has no UTF-8 form`);
  // quadlet re-quotes U+0080 as the byte escape \x80: podman would get an invalid UTF-8 byte.
  if (execContext && v.includes("\u0080")) throw new UnitValueError(`${key}= value contains U+0080, which quadlet rewrites as the raw byte \\x80`);
}

/**
 * systemd expands %-specifiers in almost every setting and $VAR/${VAR} in
 * ExecStart=. Everything quadlet turns into podman arguments lands in ExecStart=,
 * and quadlet copies `%` and `$` through untouched, so both are doubled here.
 */
function escapeExpansions(v: string, dollar: boolean): string {
  const s = v.replace(/%/g, "%%");
  return dollar ? s.replace(/\$/g, "$$$$") : s;
}

// Go's unicode.IsSpace (\s in JS, plus NEL): quadlet trims it off both ends of a
// value, so a word that ends a line with, say, a no-break space must be quoted.
const UNICODE_SPACE = /[\s\u0085]/u;

/** A raw value ending in a backslash would make quadlet (and systemd) join the next line to it. */
function noContinuation(key: string, v: string): void {
  if (v.endsWith("\\")) throw new UnitValueError(`${key}= value must not end with a backslash (it would continue onto the next line)`);
}

// Same set as quadlet's charNeedEscape: whitespace, controls, quotes, backslash.
function needsQuoting(word: string): boolean {
  if (word === "") return true;
  for (const ch of word) {
    const c = ch.codePointAt(0)!;
    if (UNICODE_SPACE.test(ch)) return true;
    if (c > 128) continue;
    if (c <= 0x20 || c === 0x7f || c === 0x80 || ch === '"' || ch === "'" || ch === "\\") return true;
  }
  return false;
}

const C_ESCAPES: Record<string, string> = {
  "\x07": "\\a",
  "\b": "\\b",
  "\t": "\\t",
  "\v": "\\v",
  "\f": "\\f",
  "\\": "\\\\",
  '"': '\\"',
};

/** Quote one word the way quadlet's exec-style splitter (unquote + C-unescape) reads it back. */
function quoteWord(word: string): string {
  if (!needsQuoting(word)) return word;
  let out = '"';
  for (const ch of word) {
    const c = ch.codePointAt(0)!;
    const esc = C_ESCAPES[ch];
    if (esc) out += esc;
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + '"';
}

export function escapeWords(words: readonly string[], dollar = true): string {
  return words.map((w) => quoteWord(escapeExpansions(w, dollar))).join(" ");
}

export class Section {
  readonly lines: UnitLine[] = [];
  constructor(
    readonly name: string,
    /** Whether values in this section end up in ExecStart= (quadlet type sections). */
    private readonly execContext: boolean,
  ) {}

  /**
   * A single value read with quadlet's Lookup(): podman 5.x trims every leading
   * and trailing `"` (podman#28409), so such a value cannot survive and is refused.
   */
  single(key: string, value: string | number | boolean): this {
    const v = String(value);
    checkLine(key, v, this.execContext);
    if (/^["\s\u0085]|["\s\u0085]$/.test(v)) {
      throw new UnitValueError(`${key}= value must not begin or end with a quote or whitespace (quadlet trims them)`);
    }
    noContinuation(key, v);
    return this.push(key, escapeExpansions(v, this.execContext));
  }

  /** One value per line, not split by quadlet (Volume=, PublishPort=, AddHost=…). */
  each(key: string, value: string): this {
    checkLine(key, value, this.execContext);
    if (/^[\s\u0085]|[\s\u0085]$/.test(value) || value === "") {
      throw new UnitValueError(`${key}= value must not be empty or begin/end with whitespace`);
    }
    noContinuation(key, value);
    return this.push(key, escapeExpansions(value, this.execContext));
  }

  /** Exec-style word list (Exec=, PodmanArgs=, EnvironmentFile=…): quoted and C-escaped. */
  words(key: string, words: readonly string[]): this {
    for (const w of words) {
      checkLine(key, w, this.execContext);
      // quadlet's splitter stops at an empty word; systemd splits ExecStart= at a bare `;`.
      if (this.execContext && w === "") throw new UnitValueError(`${key}= cannot carry an empty word (quadlet drops it and every word after it)`);
      if (this.execContext && w === ";") throw new UnitValueError(`${key}= cannot carry a lone \`;\` (systemd reads it as a command separator)`);
    }
    return this.push(key, escapeWords(words, this.execContext || key.startsWith("Exec")));
  }

  /** K=V pair (Environment=, Label=, Annotation=): one quoted word per line. */
  keyval(key: string, k: string, v: string): this {
    return this.words(key, [`${k}=${v}`]);
  }

  /** Systemd-level text (Description=): only specifiers need escaping. */
  text(key: string, value: string): this {
    checkLine(key, value);
    return this.push(key, escapeExpansions(value.trim(), false));
  }

  private push(key: string, value: string): this {
    this.lines.push({ key, value });
    return this;
  }
}

export class UnitFile {
  readonly sections: Section[] = [];
  constructor(
    readonly name: string,
    readonly header: string[],
  ) {}

  section(name: string, execContext = false): Section {
    const s = new Section(name, execContext);
    this.sections.push(s);
    return s;
  }

  keys(section: string): string[] {
    return this.sections.find((s) => s.name === section)?.lines.map((l) => l.key) ?? [];
  }

  serialize(): string {
    const parts: string[] = [];
    if (this.header.length > 0) parts.push(this.header.map((h) => `# ${h}`).join("\n") + "\n");
    for (const s of this.sections) {
      if (s.lines.length === 0) continue;
      parts.push(`[${s.name}]\n` + s.lines.map((l) => `${l.key}=${l.value}\n`).join(""));
    }
    return parts.join("\n");
  }
}

/**
 * Read unit text back into sections of Key=value lines (what quadlet and our own
 * serializer write: no continuation lines; comments and blank lines skipped).
 */
export function parseUnitText(text: string): { name: string; lines: UnitLine[] }[] {
  const sections: { name: string; lines: UnitLine[] }[] = [];
  for (const l of text.split("\n")) {
    const s = /^\[(.+)\]$/.exec(l);
    if (s) sections.push({ name: s[1]!, lines: [] });
    else if (sections.length > 0 && l !== "" && !/^[#;]/.test(l)) {
      const eq = l.indexOf("=");
      if (eq > 0) sections[sections.length - 1]!.lines.push({ key: l.slice(0, eq), value: l.slice(eq + 1) });
    }
  }
  return sections;
}

/** Values of `Key=` in every `[Section]` of a unit text, in order. */
export function unitValues(text: string, section: string, key: string): string[] {
  return parseUnitText(text).flatMap((s) => (s.name === section ? s.lines.filter((l) => l.key === key).map((l) => l.value) : []));
}
