// The real quadlet generator (Podman 5.4) as a test oracle, and systemd's
// ExecStart= rules to turn its output into the argv podman actually receives.
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
const CACHED = `${REPO}.cache/quadlet/root/usr/libexec/podman/quadlet`;

/** Path of the quadlet binary; never skips: a missing binary fails the test. */
export function quadletBin(): string {
  const bin = process.env.QUADLET_BIN || CACHED;
  try {
    accessSync(bin, constants.X_OK);
    return bin;
  } catch {
    const how = "run scripts/fetch-quadlet.sh (it prints the path) or set QUADLET_BIN";
    if (process.env.CI === "true") {
      throw new Error(`quadlet not found at ${bin}; CI must provide it (these tests are never skipped): ${how}`);
    }
    throw new Error(`quadlet not found at ${bin}: ${how}`);
  }
}

export interface DryRun {
  code: number;
  stdout: string;
  stderr: string;
  /** service name (e.g. web.service, web-build.service) → generated unit text */
  services: Map<string, string>;
}

/** `QUADLET_UNIT_DIRS=<dir> quadlet -dryrun`: one call per generated tree. */
export function dryrun(unitDir: string): DryRun {
  const r = spawnSync(quadletBin(), ["-dryrun"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", QUADLET_UNIT_DIRS: unitDir },
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  const services = new Map<string, string>();
  let name: string | undefined;
  let lines: string[] = [];
  const flush = () => {
    if (name) services.set(name, lines.join("\n"));
  };
  for (const l of r.stdout.split("\n")) {
    const m = /^---(.+)---$/.exec(l);
    if (m) {
      flush();
      name = m[1]!;
      lines = [];
    } else lines.push(l);
  }
  flush();
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, services };
}

/** x.container → x.service, x.build → x-build.service, x.network → x-network.service */
export function serviceOf(unitFile: string): string {
  const m = /^(.+)\.(container|build|network)$/.exec(unitFile);
  if (!m) throw new Error(`not a quadlet unit: ${unitFile}`);
  return m[2] === "container" ? `${m[1]}.service` : `${m[1]}-${m[2]}.service`;
}

/** Lines of stderr that report a problem (quadlet logs "Loading source unit file" otherwise). */
export function problems(stderr: string): string[] {
  return stderr.split("\n").filter((l) => /error|warning/i.test(l));
}

/** Values of `Key=` in `[Section]` of a unit text, in order. */
export function unitValues(text: string, section: string, key: string): string[] {
  const out: string[] = [];
  let current = "";
  for (const l of text.split("\n")) {
    const s = /^\[(.+)\]$/.exec(l);
    if (s) current = s[1]!;
    else if (current === section && l.startsWith(`${key}=`)) out.push(l.slice(key.length + 1));
  }
  return out;
}

// Words quadlet itself writes with specifiers in them: systemd expands these on purpose.
const QUADLET_OWN = new Set(["--cidfile=%t/%N.cid"]);

/**
 * The argv podman receives from a generated service: the ExecStart= line split
 * with systemd's rules (whitespace, '…' and "…" quotes, C escapes), then
 * systemd's specifier (%%) and environment ($$) unescaping. A `%x` or `$VAR`
 * that systemd would expand, or a bare `;`, throws: the compiler escaped badly.
 */
export function execStartArgv(serviceText: string): string[] {
  const lines = unitValues(serviceText, "Service", "ExecStart");
  if (lines.length !== 1) throw new Error(`expected one ExecStart= line, found ${lines.length}`);
  return splitExec(lines[0]!).map((w) => (QUADLET_OWN.has(w) ? w : unescapeEnv(unescapeSpecifiers(w))));
}

const WS = " \t\n\r";

/** systemd's extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE) over a whole ExecStart= value, as config_parse_exec uses it. */
export function splitExec(value: string): string[] {
  // By code point: an emoji is one character to systemd, two UTF-16 units to JS.
  const chars = Array.from(value);
  const words: string[] = [];
  let i = 0;
  const at = (j: number) => chars[j] ?? "";
  const endsWord = (j: number) => j >= chars.length || WS.includes(at(j));
  const utf8 = (c: string) => [...Buffer.from(c, "utf8")];
  while (true) {
    while (i < chars.length && WS.includes(at(i))) i++;
    if (i >= chars.length) return words;
    if (at(i) === ";" && endsWord(i + 1)) throw new Error(`bare ';' in ExecStart= at ${i}: systemd would start a second command`);
    if (at(i) === "\\" && at(i + 1) === ";" && endsWord(i + 2)) {
      words.push(";");
      i += 2;
      continue;
    }
    const bytes: number[] = [];
    let quote = "";
    for (; i < chars.length; i++) {
      const c = at(i);
      if (c === "\\") {
        const [b, len] = cunescapeOne(chars, i + 1);
        bytes.push(...b);
        i += len;
      } else if (quote) {
        if (c === quote) quote = "";
        else bytes.push(...utf8(c));
      } else if (c === '"' || c === "'") quote = c;
      else if (WS.includes(c)) break;
      else bytes.push(...utf8(c));
    }
    if (quote) throw new Error(`unterminated ${quote} quote in ExecStart=`);
    words.push(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(Buffer.from(bytes)));
  }
}

/** systemd's cunescape_one: the escape after a backslash at `p`; returns bytes and characters consumed. */
function cunescapeOne(chars: readonly string[], p: number): [number[], number] {
  const c = chars[p];
  const take = (from: number, n: number) => chars.slice(from, from + n).join("");
  const simple: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", '"': '"', "'": "'", s: " " };
  if (c === undefined) throw new Error("backslash at the end of ExecStart=");
  if (simple[c] !== undefined) return [[simple[c]!.charCodeAt(0)], 1];
  const hex = (n: number) => {
    const h = take(p + 1, n);
    if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) throw new Error(`bad \\${c} escape in ExecStart=`);
    const v = parseInt(h, 16);
    if (v === 0) throw new Error("escaped NUL in ExecStart=");
    return v;
  };
  if (c === "x") return [[hex(2)], 3];
  if (c === "u") return [[...Buffer.from(String.fromCodePoint(hex(4)), "utf8")], 5];
  if (c === "U") return [[...Buffer.from(String.fromCodePoint(hex(8)), "utf8")], 9];
  if (/[0-7]/.test(c)) {
    const o = take(p, 3);
    if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) === 0 || parseInt(o, 8) > 255) throw new Error("bad octal escape in ExecStart=");
    return [[parseInt(o, 8)], 3];
  }
  throw new Error(`invalid escape \\${c} in ExecStart=: systemd refuses the unit`);
}

/** unit_full_printf: %% → %; any other specifier would be expanded by systemd. */
function unescapeSpecifiers(w: string): string {
  return w.replace(/%(.?)/gs, (m, n: string) => {
    if (n === "%") return "%";
    throw new Error(`systemd would expand the specifier "${m}" in argv word ${JSON.stringify(w)}`);
  });
}

/** replace_env_argv: $$ → $; $VAR / ${VAR} would be expanded by systemd. */
function unescapeEnv(w: string): string {
  return w.replace(/\$(.?)/gs, (m, n: string) => {
    if (n === "$") return "$";
    throw new Error(`systemd would expand "${m}…" in argv word ${JSON.stringify(w)}`);
  });
}

/** Index where `needle` occurs as consecutive words in `argv`, or -1. */
export function indexOfWords(argv: readonly string[], needle: readonly string[]): number {
  outer: for (let i = 0; i + needle.length <= argv.length; i++) {
    for (let j = 0; j < needle.length; j++) if (argv[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
