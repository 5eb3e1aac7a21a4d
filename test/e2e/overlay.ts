// The test overlay: the catalog's manifests as shipped, with one change — each
// container's `image:` points at a local stand-in built from the upstream
// image's contract (standins/), because no registry is reachable. Commands,
// entrypoints, users, health checks, read_only, tmpfs, capabilities, volumes,
// configs, ports and dependencies are the catalog's own; the UI companions'
// build contexts are copied unchanged and build on a local stand-in of their
// nginx base image. `imageOnlyDiff` lets a test prove that.
//
// A *release* (a new catalog version in an OTA) may differ from the catalog:
// `tweak` edits a manifest the way a release would, `uiPatch` appends lines to
// a UI's Containerfile (e.g. the field incident's mode-700 web root).
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseDocument, stringify } from "yaml";
import { repoOf, tagOf } from "./standins/contracts.js";
import type { StandinOptions, StandinSpec } from "./standins/images.js";

export const CATALOG = join(import.meta.dirname, "../../manifests");

type Json = Record<string, unknown>;

export interface OverlayOptions {
  apps: string[];
  /**
   * The manifests the release ships (default: the selected apps'). A node's release carries
   * the whole catalog (`catalogIds()`), which some derived files depend on (bitcoin.conf has
   * an rpcauth line for every catalog consumer); stand-ins are made for the selected apps only.
   */
  ship?: string[];
  /** Release edits on top, keyed by app id (version bumps, a changed env value). */
  tweak?: Record<string, (app: Json) => void>;
  /** Lines appended to the named UI apps' Containerfiles (a release's image content). */
  uiPatch?: Record<string, string>;
  /** Stand-in behaviour per app id (baked into a differently tagged image). */
  standin?: Record<string, StandinOptions>;
  /**
   * Registry the pulled stand-ins are published to (the guest's own, "127.0.0.1:5000"):
   * `image:` names them there instead of localhost/, so apply has to pull them. The UI
   * builds' base images stay local (their Containerfiles are the catalog's own).
   */
  registry?: string;
}

/** A UI release whose web root is mode 700 under another owner: nginx cannot serve it. */
export const BAD_UI_PATCH = "RUN chown -R 1000:1000 /usr/share/nginx/html && chmod 700 /usr/share/nginx/html\n";

/** Reference of the stand-in for `image`: local, or in `registry` (options make a distinct tag). */
export function standinRef(image: string, options?: StandinOptions, registry = "localhost"): string {
  const path = repoOf(image).replace(/^[^/]+\//, "");
  let suffix = options?.readyAfterSec !== undefined ? `-ready${options.readyAfterSec}` : "";
  if (options?.variant) suffix += `-${options.variant}`;
  return `${registry}/standin/${path}:${tagOf(image)}${suffix}`;
}

/**
 * Write the overlay manifests for `apps` into dir and return the stand-in
 * images they need (pulled images and the UI builds' base images).
 */
export function writeOverlay(dir: string, o: OverlayOptions): StandinSpec[] {
  mkdirSync(dir, { recursive: true });
  const specs = new Map<string, StandinSpec>();
  const selected = new Set(o.apps);
  for (const id of new Set([...(o.ship ?? []), ...o.apps])) {
    const doc = parseDocument(readFileSync(join(CATALOG, `${id}.yaml`), "utf8"));
    const containers = doc.get("containers") as { items: { key: { value: string } }[] };
    for (const item of containers.items) {
      const key = item.key.value;
      const image = doc.getIn(["containers", key, "image"]) as string | undefined;
      const build = doc.getIn(["containers", key, "build", "context"]) as string | undefined;
      if (image) {
        const ref = standinRef(image, o.standin?.[id], o.registry);
        if (selected.has(id)) specs.set(ref, { ref, upstream: image, options: o.standin?.[id], app: id });
        doc.setIn(["containers", key, "image"], ref);
      }
      if (build) {
        const ctx = join(dir, build);
        cpSync(join(CATALOG, build), ctx, { recursive: true });
        const file = join(ctx, (doc.getIn(["containers", key, "build", "file"]) as string | undefined) ?? "Containerfile");
        if (o.uiPatch?.[id]) appendFileSync(file, o.uiPatch[id]);
        if (selected.has(id)) for (const m of readFileSync(file, "utf8").matchAll(/^FROM\s+(\S+)/gm)) specs.set(m[1]!, { ref: m[1]!, upstream: m[1]! });
      }
    }
    let text = doc.toString();
    const tweak = o.tweak?.[id];
    if (tweak) {
      const app = parse(text) as Json;
      tweak(app);
      text = stringify(app);
    }
    writeFileSync(join(dir, `${id}.yaml`), text);
  }
  return [...specs.values()];
}

/** Every app id of the catalog as shipped. */
export function catalogIds(): string[] {
  return readdirSync(CATALOG).filter((f) => f.endsWith(".yaml")).map((f) => f.slice(0, -".yaml".length)).sort();
}

/**
 * Where the overlay differs from the catalog other than `containers.*.image`:
 * manifest paths, and files of copied build contexts. Empty = images only.
 */
export function imageOnlyDiff(dir: string): string[] {
  const out: string[] = [];
  const walk = (f: string, a: unknown, b: unknown, path: string) => {
    if (/^containers\.[^.]+\.image$/.test(path)) return;
    if (a && b && typeof a === "object" && typeof b === "object") {
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) walk(f, (a as Json)[k], (b as Json)[k], path ? `${path}.${k}` : k);
    } else if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${f}: ${path}`);
  };
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".yaml"))) {
    walk(f, parse(readFileSync(join(dir, f), "utf8")), parse(readFileSync(join(CATALOG, f), "utf8")), "");
  }
  if (existsSync(join(dir, "build"))) {
    for (const ctx of readdirSync(join(dir, "build")))
      for (const f of readdirSync(join(dir, "build", ctx), { recursive: true }) as string[]) {
        const mine = join(dir, "build", ctx, f);
        if (!statSync(mine).isFile()) continue;
        const theirs = join(CATALOG, "build", ctx, f);
        if (!existsSync(theirs) || !readFileSync(mine).equals(readFileSync(theirs))) out.push(`build/${ctx}/${f}`);
      }
  }
  return out;
}

export function writeSelection(file: string, apps: string[], settings: Json = {}, appSettings?: Json): void {
  const sel: Json = { apps, settings: { bitcoin_network: "regtest", resource_limits: false, ...settings } };
  if (appSettings) sel.app_settings = appSettings;
  writeFileSync(file, stringify(sel));
}

