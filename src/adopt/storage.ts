// Node-local storage mapping (docs/adopt.md): where each app's volume data lives.
// The selection's `storage:` points a manifest volume source at an existing host
// directory or podman named volume (an adopted node's data, used in place);
// `settings.data_root` replaces /var/lib/archy/apps for everything unmapped.
// Pure: the checks that need the node (does it exist?) are in preflight.ts.
import type { LoadedApp } from "../manifest/read.js";
import type { Selection } from "../manifest/schema.js";
import type { Diagnostic } from "../manifest/diagnostics.js";
import { CONFIG_ROOT, DATA_ROOT } from "../lower/paths.js";

export const SECRETS_DIR = "/var/lib/archy/secrets";
export const STATE_DIR = "/var/lib/archy-quadlet";
/** Default mountpoint of a root podman named volume (graphroot /var/lib/containers/storage). */
export const volumeMountpoint = (name: string) => `/var/lib/containers/storage/volumes/${name}/_data`;

export type Where =
  | { kind: "default"; host: string }
  | { kind: "path"; host: string }
  | { kind: "volume"; volume: string; host: string };

/** "./a//b/" → "a/b": how a manifest source is written as a storage key. */
export function sourceKey(source: string): string {
  return source.split("/").filter((x) => x !== "" && x !== ".").join("/");
}

/** Where `owner`'s volume `source` lives on this node. Absolute sources (system apps) are themselves. */
export function resolveSource(selection: Selection | undefined, owner: string, source: string): Where {
  if (source.startsWith("/")) return { kind: "default", host: source };
  const mapped = selection?.storage?.[owner]?.[sourceKey(source)];
  if (mapped?.startsWith("volume:")) {
    const volume = mapped.slice("volume:".length);
    return { kind: "volume", volume, host: volumeMountpoint(volume) };
  }
  if (mapped) return { kind: "path", host: mapped };
  return { kind: "default", host: `${selection?.settings.data_root ?? DATA_ROOT}/${owner}/${source}` };
}

/** The Volume= source: a host path, or a named volume podman uses in place. */
export function volumeSource(w: Where): string {
  return w.kind === "volume" ? w.volume : w.host;
}

// Never data: the system's own trees and archy's secrets and state.
const FORBIDDEN = ["/etc", "/usr", "/boot", "/proc", "/sys", "/dev", "/run", SECRETS_DIR, STATE_DIR, CONFIG_ROOT, "/bin", "/sbin", "/lib", "/var/lib/containers"];

const within = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

/** Why `p` cannot hold app data, if it cannot. */
export function forbiddenPath(p: string): string | undefined {
  if (p === "/") return "it is the root directory";
  for (const f of FORBIDDEN) {
    if (within(p, f)) return `it is ${p === f ? "" : "inside "}${f}, which is never app data`;
    if (within(f, p)) return `it contains ${f}`;
  }
  return undefined;
}

/**
 * Check `storage:`, `settings.data_root` and `rpc_users` against the catalog: unknown app or
 * source, forbidden paths, one path or volume used read-write by two apps (or two sources).
 */
export function checkStorage(selection: Selection, file: string | undefined, apps: LoadedApp[], diags: Diagnostic[]): void {
  const f = file ?? "selection";
  const root = selection.settings.data_root;
  if (root) {
    const why = forbiddenPath(root);
    if (why) diags.push({ file: f, path: "settings.data_root", message: `data_root "${root}" cannot hold app data: ${why}` });
  }
  const byId = new Map(apps.map((a) => [a.app.id, a.app]));
  const selected = new Set(selection.apps);
  // mapped target → who writes it
  const writers: { target: string; path: string; app: string; source: string }[] = [];
  for (const [appId, sources] of Object.entries(selection.storage ?? {})) {
    const app = byId.get(appId);
    if (!app || !selected.has(appId)) {
      diags.push({ file: f, path: `storage.${appId}`, message: app ? `app "${appId}" is not in this selection's apps` : `unknown app "${appId}"` });
      continue;
    }
    // source → is it mounted read-write by any of the app's own containers?
    const own = new Map<string, boolean>();
    for (const c of Object.values(app.containers)) {
      for (const v of c.volumes ?? []) {
        if (v.app || v.source.startsWith("/")) continue;
        const k = sourceKey(v.source);
        own.set(k, (own.get(k) ?? false) || !v.read_only);
      }
    }
    for (const [source, target] of Object.entries(sources)) {
      const path = `storage.${appId}.${source}`;
      if (!own.has(source)) {
        const known = [...own.keys()].sort();
        diags.push({ file: f, path, message: `app "${appId}" has no volume source "${source}"${known.length ? ` (its sources: ${known.join(", ")})` : " (it has no data volumes)"}` });
        continue;
      }
      if (!target.startsWith("volume:")) {
        const why = forbiddenPath(target);
        if (why) {
          diags.push({ file: f, path, message: `"${target}" cannot hold app data: ${why}` });
          continue;
        }
      }
      writers.push({ target, path, app: appId, source });
    }
  }
  // One directory or volume holds one app's one source; nested directories count (a container
  // writing the outer one could swap the inner one for a symlink).
  for (const [i, a] of writers.entries()) {
    for (const b of writers.slice(0, i)) {
      const clash = a.target.startsWith("volume:") || b.target.startsWith("volume:") ? a.target === b.target : within(a.target, b.target) || within(b.target, a.target);
      if (!clash) continue;
      const how = a.target === b.target ? `"${a.target}" is already mapped` : `"${a.target}" and "${b.target}" nest`;
      diags.push({ file: f, path: a.path, message: `${how} for ${b.app === a.app ? "" : `app "${b.app}" `}source "${b.source}" (${b.path}): one directory or volume holds one volume's data` });
    }
  }
  const users = new Set<string>();
  const consumers = new Set(apps.filter((a) => a.app.bitcoin_rpc).map((a) => a.app.id));
  (selection.rpc_users ?? []).forEach((u, i) => {
    const path = `rpc_users[${i}]`;
    if (users.has(u.name)) diags.push({ file: f, path: `${path}.name`, message: `rpc user "${u.name}" is listed twice` });
    users.add(u.name);
    if (consumers.has(u.name)) diags.push({ file: f, path: `${path}.name`, message: `"${u.name}" is a catalog app's own rpc user; choose another name` });
    if ((u.rpcauth === undefined) === (u.secret === undefined)) diags.push({ file: f, path, message: "an rpc user has exactly one of `rpcauth` (a line from rpcauth.py) or `secret: true` (a password in the secrets store)" });
    if (u.rpcauth !== undefined && !u.rpcauth.startsWith(`${u.name}:`)) diags.push({ file: f, path: `${path}.rpcauth`, message: `the rpcauth line is for user "${u.rpcauth.split(":")[0]}", not "${u.name}"` });
  });
}

/** Every mapped host directory and named volume of the selection, for the apply preflight. */
export function mappedTargets(selection: Selection | undefined): { app: string; source: string; where: Where }[] {
  const out: { app: string; source: string; where: Where }[] = [];
  for (const [app, sources] of Object.entries(selection?.storage ?? {})) {
    for (const source of Object.keys(sources)) out.push({ app, source, where: resolveSource(selection, app, source) });
  }
  return out;
}

export const rpcUserSecretName = (name: string) => `rpc-user-${name}`;
export const DEFAULT_TAKEOVER_UNITS = ["first-boot-containers.service", "reconcile-containers.service"];
