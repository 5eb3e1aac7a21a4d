// Reading: YAML text → plain values with source positions → validated model.
// Pure except for the directory listing / file reads in readManifestDir.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
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
}

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
  });
  const problems = [...doc.errors, ...doc.warnings];
  for (const e of problems) {
    const at = e.pos ? position(lines, e.pos[0]) : undefined;
    diags.push({ file: src.file, ...at, message: yamlMessage(e.code, e.message) });
  }
  if (problems.length > 0) return undefined;
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
  return { value, doc, lines };
}

function yamlMessage(code: string, message: string): string {
  const first = message.split("\n")[0] ?? message;
  if (code === "DUPLICATE_KEY") return `duplicate key: ${first.replace(/^Map keys must be unique.*?$/, "map keys must be unique")}`;
  return `invalid YAML: ${first}`;
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
      const { node, keyNode } = nodeAt(parsed.doc, issue.path, key);
      const range = (keyNode ?? node)?.range;
      const at = range ? position(parsed.lines, range[0]) : { line: 1, col: 1 };
      const path = formatPath(key !== undefined ? [...issue.path, key] : issue.path);
      const message = key !== undefined ? `unknown key "${key}"` : issueMessage(issue);
      out.push({ file: src.file, ...at, path: path || undefined, message });
    }
  }
  return out;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type") {
    const got = (issue as { input?: unknown }).input;
    return got === undefined ? `required ${issue.expected} is missing` : `expected ${issue.expected}, got ${typeName(got)}`;
  }
  return issue.message;
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
  const result = appSchema.safeParse(parsed.value, { reportInput: true });
  if (!result.success) {
    diags.push(...zodDiagnostics(src, parsed, result.error));
    return undefined;
  }
  return { app: result.data, file: src.file, dir };
}

export function parseSelection(src: SourceFile, diags: Diagnostic[]): Selection | undefined {
  const parsed = parseYaml(src, diags);
  if (!parsed) return undefined;
  const result = selectionSchema.safeParse(parsed.value, { reportInput: true });
  if (!result.success) {
    diags.push(...zodDiagnostics(src, parsed, result.error));
    return undefined;
  }
  return result.data;
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
    diags.push({ file, line: 1, col: 1, message: "file is not valid UTF-8" });
    return undefined;
  }
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
      diags.push({ file, line: 1, col: 1, path: "id", message: `app id "${loaded.app.id}" must match the file name "${stem}"` });
      continue;
    }
    apps.push(loaded);
  }
  return apps;
}
