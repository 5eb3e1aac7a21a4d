// Reading: YAML text → plain values with source positions → validated model.
// Pure except for the directory listing / file reads in readManifestDir.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Alias, type Document, type Node } from "yaml";
import type { z } from "zod";
import { appSchema, selectionSchema, type App, type Selection } from "./schema.js";
import { cmp, formatPath, type Diagnostic } from "./diagnostics.js";

export interface SourceFile {
  /** Path as shown in diagnostics, e.g. manifests/lnd.yaml */
  file: string;
  text: string;
}

export interface LoadedApp {
  app: App;
  file: string;
  /** Directory the manifest came from: build contexts are relative to it. */
  dir: string;
  /** Source position of a field path like `containers.web.ports[0]` (see locateIn). */
  locate?: Locate;
}

export type Locate = (path: string, at?: "key" | "value") => { line: number; col: number } | undefined;

const MAX_MANIFEST_BYTES = 1 << 20;
// An alias bomb expands exponentially; real manifests need a handful of aliases.
const MAX_ALIASES = 100;

interface Parsed {
  value: unknown;
  doc: Document;
  lines: LineCounter;
}

function position(lines: LineCounter, offset: number): { line: number; col: number } {
  const p = lines.linePos(offset);
  return { line: p.line, col: p.col };
}

export function parseYaml(src: SourceFile, diags: Diagnostic[]): Parsed | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(src.text, {
    lineCounter: lines,
    uniqueKeys: true,
    prettyErrors: false,
    strict: true,
    version: "1.2",
    schema: "core",
    // The library must never write to our stderr (it warns about collection keys there).
    logLevel: "error",
  });
  const problems = [...doc.errors, ...doc.warnings];
  for (const e of problems) {
    const at = e.pos ? position(lines, e.pos[0]) : undefined;
    if (e.code === "DUPLICATE_KEY" && e.pos) {
      const dup = duplicateKey(doc, e.pos[0]);
      if (dup) {
        const first = position(lines, dup.first);
        diags.push({ file: src.file, ...at, path: formatPath(dup.path), message: `duplicate key "${String(dup.path[dup.path.length - 1])}" (first defined at line ${first.line})` });
        continue;
      }
    }
    diags.push({ file: src.file, ...at, message: yamlMessage(e.code, e.message) });
  }
  if (problems.length > 0) return undefined;
  // One walk over the YAML tree finds both things the parser lets through.
  const found = inspect(doc);
  if (found.cycle) {
    // yaml's toJS never returns on an alias inside the node it names (`a: &a [*a]`).
    const cycle = found.cycle;
    diags.push({ file: src.file, ...(cycle.range ? position(lines, cycle.range[0]) : { line: 1, col: 1 }), message: `invalid YAML: alias *${cycle.source} is inside the node it refers to (a cycle)` });
    return undefined;
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    diags.push({ file: src.file, line: 1, col: 1, message: `YAML could not be resolved: ${(e as Error).message}` });
    return undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const at = doc.contents?.range ? position(lines, doc.contents.range[0]) : { line: 1, col: 1 };
    diags.push({ file: src.file, ...at, message: `a manifest must be a YAML mapping, got ${describe(value)}` });
    return undefined;
  }
  const proto = found.proto;
  if (proto) {
    // zod skips a "__proto__" record key without validating it: `environment: {__proto__: x}`
    // would compile and silently never reach podman. No manifest needs the key.
    const path = formatPath(proto);
    const at = locateIn({ value, doc, lines })(path) ?? { line: 1, col: 1 };
    diags.push({ file: src.file, ...at, path, message: 'the key "__proto__" is not allowed (it would be dropped without being validated)' });
    return undefined;
  }
  return { value, doc, lines };
}

/**
 * One pass over the document: the first alias that refers to one of its own
 * ancestors (the last node anchored with its name before it), and the path of
 * the first "__proto__" mapping key.
 */
function inspect(doc: Document): { cycle?: Alias; proto?: (string | number)[] } {
  const anchored = new Map<string, Node>();
  const ancestors: Node[] = [];
  const found: { cycle?: Alias; proto?: (string | number)[] } = {};
  const walk = (node: unknown, path: (string | number)[]): void => {
    if (found.cycle) return;
    if (isAlias(node)) {
      const target = anchored.get(node.source);
      if (target !== undefined && ancestors.includes(target)) found.cycle = node;
      return;
    }
    if (!isScalar(node) && !isMap(node) && !isSeq(node)) return;
    if (node.anchor) anchored.set(node.anchor, node);
    ancestors.push(node);
    if (isMap(node)) {
      for (const pair of node.items) {
        const name = isScalar(pair.key) ? String(pair.key.value) : "?";
        if (name === "__proto__" && !found.proto) found.proto = [...path, name];
        walk(pair.key, path);
        walk(pair.value, [...path, name]);
      }
    } else if (isSeq(node)) node.items.forEach((item, i) => walk(item, [...path, i]));
    ancestors.pop();
  };
  walk(doc.contents, []);
  return found;
}

function yamlMessage(code: string, message: string): string {
  const first = message.split("\n")[0] ?? message;
  // The parser recursed until the stack ran out: say what that means for a manifest.
  if (/Maximum call stack size exceeded/.test(first)) return "invalid YAML: the document is nested too deeply (a manifest needs only a few levels)";
  if (code === "DUPLICATE_KEY") return `duplicate key: ${first.replace(/^Map keys must be unique.*?$/, "map keys must be unique")}`;
  return `invalid YAML: ${first}`;
}

/** The path of the map key starting at `offset`, and where that key first appeared in its map. */
function duplicateKey(doc: Document, offset: number): { path: (string | number)[]; first: number } | undefined {
  const visit = (node: unknown, path: (string | number)[]): { path: (string | number)[]; first: number } | undefined => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = pair.key as Node | null;
        if (isScalar(k) && k.range?.[0] === offset) {
          const name = String(k.value);
          const first = node.items.find((p) => isScalar(p.key) && String(p.key.value) === name)!.key as Node;
          return { path: [...path, name], first: first.range![0] };
        }
        const found = visit(pair.value, [...path, isScalar(k) ? String(k.value) : "?"]);
        if (found) return found;
      }
    } else if (isSeq(node)) {
      for (let i = 0; i < node.items.length; i++) {
        const found = visit(node.items[i], [...path, i]);
        if (found) return found;
      }
    }
    return undefined;
  };
  return visit(doc.contents, []);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return "an empty document";
  if (Array.isArray(v)) return "a list";
  return `a ${typeof v}`;
}

/** Find the node a zod path points at, falling back to the nearest existing parent. */
function nodeAt(doc: Document, path: readonly PropertyKey[], key?: string): { node?: Node; keyNode?: Node } {
  let node: unknown = doc.contents;
  for (const seg of path) {
    const next = child(node, seg);
    if (next === undefined) return { node: node as Node };
    node = next;
  }
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    if (pair && pair.key) return { node: node as Node, keyNode: pair.key as Node };
  }
  return { node: node as Node };
}

/** `containers.web.ports[0].host` → ["containers", "web", "ports", 0, "host"] (ids and keys never contain dots). */
export function parsePath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/**
 * Position of a field path: the key of a mapping entry (at: "key", the default)
 * or its value; a path that does not exist falls back to its nearest ancestor.
 */
export function locateIn(parsed: Parsed): Locate {
  return (path, at = "key") => {
    let node: unknown = parsed.doc.contents;
    let keyNode: Node | undefined;
    for (const seg of parsePath(path)) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        keyNode = pair.key as Node;
        node = pair.value;
        if (node === null || node === undefined) break; // `key:` with an empty value
      } else if (isSeq(node) && typeof seg === "number" && node.items[seg] !== undefined) {
        keyNode = undefined;
        node = node.items[seg];
      } else break;
    }
    const value = (node ?? undefined) as Node | undefined;
    const target = at === "key" && keyNode ? keyNode : (value ?? keyNode);
    return target?.range ? position(parsed.lines, target.range[0]) : undefined;
  };
}

/**
 * A Locate that re-parses the source on first use. Positions are only needed
 * for diagnostics, and keeping every manifest's YAML document alive instead
 * cost a 1,000-app catalog ~40 MB of heap and a third of its GC time.
 */
function locateLater(src: SourceFile): Locate {
  let locate: Locate | undefined;
  return (path, at) => {
    if (!locate) {
      const parsed = parseYaml(src, []);
      if (!parsed) return undefined;
      locate = locateIn(parsed);
    }
    return locate(path, at);
  };
}

/** Fill in line:col for diagnostics that name a file and a field path but no position. */
export function placeDiagnostics(diags: Diagnostic[], locators: ReadonlyMap<string, Locate>): void {
  for (const d of diags) {
    if (d.line !== undefined) continue;
    const at = locators.get(d.file)?.(d.path ?? "");
    if (at) Object.assign(d, at);
  }
}

function child(node: unknown, seg: PropertyKey): unknown {
  if (isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
    return pair?.value ?? undefined;
  }
  if (isSeq(node) && typeof seg === "number") return node.items[seg];
  return undefined;
}

export function zodDiagnostics(src: SourceFile, parsed: Parsed, error: z.ZodError): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const issue of error.issues) {
    const keys = issue.code === "unrecognized_keys" ? issue.keys : [undefined];
    for (const key of keys) {
      let { node, keyNode } = nodeAt(parsed.doc, issue.path, key);
      // A rule about a whole mapping (exactly one of image/build…) points at its key.
      if (key === undefined && issue.code === "custom" && isMap(node) && issue.path.length > 0) {
        keyNode = nodeAt(parsed.doc, issue.path.slice(0, -1), String(issue.path[issue.path.length - 1])).keyNode;
      }
      const range = (keyNode ?? node)?.range;
      const at = range ? position(parsed.lines, range[0]) : { line: 1, col: 1 };
      const path = formatPath(key !== undefined ? [...issue.path, key] : issue.path);
      const message = key !== undefined ? `unknown key "${key}"` : issueMessage(issue);
      out.push({ file: src.file, ...at, path: path || undefined, message });
    }
  }
  return out;
}

// zod's default wording ("Too big: expected number to be <=65535", "Invalid input")
// names neither the limit in manifest terms nor the value found; custom messages pass through.
const ZOD_DEFAULT = /^(Too big|Too small|Invalid option|Invalid input)/;
const YAML_TYPE: Record<string, string> = { array: "list", object: "mapping", record: "mapping" };

function issueMessage(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  if (issue.code === "invalid_type") {
    const want = YAML_TYPE[issue.expected] ?? issue.expected;
    return input === undefined ? `required ${want} is missing` : `expected ${want}, got ${typeName(input)}`;
  }
  // A bad mapping key (an environment variable name, a container key…): the key's own rule.
  if (issue.code === "invalid_key") return `invalid key: ${issue.issues.map((i) => i.message).join("; ")}`;
  if (!ZOD_DEFAULT.test(issue.message)) return issue.message;
  const got = input === undefined ? "" : `, got ${show(input)}`;
  switch (issue.code) {
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}${got}`;
    case "too_big":
    case "too_small": {
      const bound = issue.code === "too_big" ? issue.maximum : issue.minimum;
      const most = issue.code === "too_big" ? "at most" : "at least";
      const unit = issue.origin === "string" ? " characters" : issue.origin === "array" ? " items" : "";
      return `must be ${most} ${String(bound)}${unit}${issue.origin === "number" ? got : ""}`;
    }
    case "invalid_union": {
      // Each alternative failed on its type: say which types would do.
      const wants = issue.errors.map((branch) => branch.find((i) => i.code === "invalid_type" && i.path.length === 0));
      if (wants.every((w) => w?.code === "invalid_type")) {
        const names = wants.map((w) => (w?.code === "invalid_type" ? (YAML_TYPE[w.expected] ?? w.expected) : ""));
        return `expected ${[...new Set(names)].join(" or ")}, got ${typeName(input)}`;
      }
      return `does not match any accepted form${got}`;
    }
  }
  return issue.message;
}

function show(v: unknown): string {
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? JSON.stringify(v) : typeName(v);
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "list";
  if (typeof v === "object") return "mapping";
  return typeof v;
}

export function parseApp(src: SourceFile, dir: string, diags: Diagnostic[]): LoadedApp | undefined {
  const parsed = parseYaml(src, diags);
  if (!parsed) return undefined;
  const result = appSchema.safeParse(parsed.value, { reportInput: true, jitless: true });
  if (!result.success) {
    diags.push(...zodDiagnostics(src, parsed, result.error));
    return undefined;
  }
  return { app: result.data, file: src.file, dir, locate: locateLater(src) };
}

export function parseSelectionLocated(src: SourceFile, diags: Diagnostic[]): { selection: Selection; locate: Locate } | undefined {
  const parsed = parseYaml(src, diags);
  if (!parsed) return undefined;
  const result = selectionSchema.safeParse(parsed.value, { reportInput: true });
  if (!result.success) {
    diags.push(...zodDiagnostics(src, parsed, result.error));
    return undefined;
  }
  return { selection: result.data, locate: locateIn(parsed) };
}

/** Decode strictly: a manifest with invalid UTF-8 is an error, not mojibake in a unit. */
export function readSource(file: string, diags: Diagnostic[]): SourceFile | undefined {
  let bytes: Buffer;
  try {
    const st = statSync(file);
    if (st.size > MAX_MANIFEST_BYTES) {
      diags.push({ file, message: `file is ${st.size} bytes; manifests are limited to ${MAX_MANIFEST_BYTES} bytes` });
      return undefined;
    }
    bytes = readFileSync(file);
  } catch (e) {
    diags.push({ file, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    return undefined;
  }
  try {
    return { file, text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    // Point at the first bad byte: line by newlines before it, column in characters.
    const at = Math.max(0, firstInvalidUtf8(bytes));
    const lineStart = bytes.lastIndexOf(0x0a, at - 1) + 1;
    const line = bytes.subarray(0, at).filter((b) => b === 0x0a).length + 1;
    const col = Array.from(bytes.subarray(lineStart, at).toString("utf8")).length + 1;
    diags.push({ file, line, col, message: `file is not valid UTF-8 (byte 0x${(bytes[at] ?? 0).toString(16).padStart(2, "0")})` });
    return undefined;
  }
}

/** Offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629), or -1. */
function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    const n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    // No overlong forms, no surrogates, nothing above U+10FFFF.
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return -1;
}

export function readManifestDir(dir: string, diags: Diagnostic[]): LoadedApp[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    diags.push({ file: dir, message: `cannot read manifests directory: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    return [];
  }
  // Sorted so that output and diagnostics never depend on directory order.
  const files = names.filter((n) => /\.ya?ml$/.test(n)).sort(cmp);
  if (files.length === 0) {
    diags.push({ file: dir, message: "no manifests found (expected <app-id>.yaml files)" });
    return [];
  }
  const apps: LoadedApp[] = [];
  for (const name of files) {
    const file = join(dir, name);
    const src = readSource(file, diags);
    if (!src) continue;
    const loaded = parseApp(src, dir, diags);
    if (!loaded) continue;
    const stem = name.replace(/\.ya?ml$/, "");
    if (stem !== loaded.app.id) {
      diags.push({ file, ...(loaded.locate?.("id", "value") ?? { line: 1, col: 1 }), path: "id", message: `app id "${loaded.app.id}" must match the file name "${stem}"` });
      continue;
    }
    apps.push(loaded);
  }
  return apps;
}
