// adopt: read an existing node (its containers, their mounts, its bitcoin.conf and
// lnd.conf) and propose the selection entries that take it over in place
// (docs/adopt.md). Without `write` nothing is written; with it the selection file is
// updated atomically (comments and order kept) and adopted passwords go into the
// secrets store (0600). Data is never copied, moved, chowned or deleted.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument, isMap, isSeq, type Document } from "yaml";
import { tmpdir } from "node:os";
import { compile } from "../plan/inputs.js";
import { setAppSetting } from "../settings/edit.js";
import type { SettingValue } from "../manifest/schema.js";
import { ReviewSecrets, SecretStore } from "../configs/secrets.js";
import { UserError, type Diagnostic } from "../manifest/diagnostics.js";
import { Failure } from "../outcome.js";
import { writeFileAtomic } from "../atomic.js";
import type { SystemAdapter } from "../apply/adapter.js";
import type { Graph } from "../graph/graph.js";

import { propose, type Inspect, type Proposal } from "./discover.js";
import { checkStorage, resolveSource, rpcUserSecretName } from "./storage.js";
import { importBitcoinConf, importLndConf, readConfLines, type NotCarried, type RpcUser, type Network } from "./legacy-conf.js";

export interface AdoptOptions {
  select: string;
  manifests: string;
  root: string;
  secrets: string;
  write: boolean;
  bitcoinConf?: string;
  lndConf?: string;
}

export interface Ownership {
  app: string;
  source: string;
  path: string;
  owner: number;
  expected: number;
  container: string;
}

export interface AdoptReport extends Omit<Proposal, "errors"> {
  ownership: Ownership[];
  /** What the selection gets from the legacy configs: the network, and app_settings of the bitcoin provider. */
  settings: { bitcoin_network?: Network; app_settings?: Record<string, Record<string, SettingValue>> };
  rpc_users: RpcUser[];
  not_carried: NotCarried[];
  /** adopted secrets (names only, never values) */
  secrets: string[];
  notes: string[];
  diff: string;
  written: boolean;
}

import { appSecretName, WALLET_SECRET } from "../configs/derive.js";

export async function adopt(adapter: SystemAdapter, o: AdoptOptions): Promise<AdoptReport> {
  const r = compile({ manifests: o.manifests, select: o.select, secrets: new ReviewSecrets() });
  if (r.diagnostics.length) throw new UserError(r.diagnostics);
  const g = r.graph!;
  const legacy = await readContainers(adapter);
  const p = propose(g, legacy);
  const invalid = [...p.errors];
  const failed: string[] = [];
  const notes: string[] = [];
  if (legacy.length === 0) notes.push("no existing containers on this node: nothing to adopt");

  // Every proposed source must exist now: it is the data the node runs on.
  const mountpoints = new Map<string, string>();
  for (const [app, sources] of Object.entries(p.storage)) {
    for (const [source, target] of Object.entries(sources)) {
      if (target.startsWith("volume:")) {
        const name = target.slice("volume:".length);
        const mp = await volumeMountpoint(adapter, name);
        if (mp) mountpoints.set(name, mp);
        else failed.push(`app ${app}'s "${source}": the named volume "${name}" does not exist (podman volume inspect ${name}); the container that used it must have lost it — nothing adopted`);
      } else if (!isDir(join(o.root, target))) {
        failed.push(`app ${app}'s "${source}": the mount source ${target} no longer exists or is not a directory; nothing adopted`);
      }
    }
  }
  // The merged mapping must itself be valid (two apps claiming one path, system paths…).
  const sel = g.selection!;
  const merged = { ...sel, storage: mergeStorage(sel.storage, p.storage) };
  const sdiags: Diagnostic[] = [];
  checkStorage(merged, o.select, g.apps, sdiags);
  for (const d of sdiags.filter((d) => d.path?.startsWith("storage"))) invalid.push(`${d.path}: ${d.message}`);

  const hostDir = (app: string, source: string): string | undefined => {
    const w = resolveSource(merged, app, source);
    if (w.kind === "volume") {
      const mp = mountpoints.get(w.volume);
      return mp === undefined ? undefined : join(o.root, mp);
    }
    return join(o.root, w.host);
  };
  const ownership = checkOwnership(g, merged, hostDir);

  // Settings and credentials from the legacy configs.
  const diags: Diagnostic[] = [];
  // Every catalog consumer, selected or not: bitcoin.conf carries each one's generated rpcauth line.
  const catalogUsers = new Set(g.catalog.filter((a) => a.app.bitcoin_rpc).map((a) => a.app.id));
  const provider = g.roles.get("bitcoin");
  const notCarried: NotCarried[] = [];
  let network: Network | undefined;
  let rpcUsers: RpcUser[] = [];
  let passwords = new Map<string, string>();
  const carried: Record<string, Record<string, SettingValue>> = {};
  const bconf = o.bitcoinConf ?? (provider && p.storage[provider]?.data ? join(hostDir(provider, "data") ?? "/nonexistent", "bitcoin.conf") : undefined);
  if (bconf) {
    const bytes = readConf(bconf, o.bitcoinConf !== undefined, diags);
    const lines = bytes && readConfLines(bconf, bytes, diags);
    const declared = (provider && g.apps.find((a) => a.app.id === provider)?.app.settings) || {};
    const imp = lines && importBitcoinConf(bconf, lines, catalogUsers, declared, diags);
    if (imp) {
      network = imp.network;
      rpcUsers = imp.rpcUsers;
      passwords = imp.passwords;
      notCarried.push(...imp.notCarried);
      if (Object.keys(imp.settings).length && provider) carried[provider] = imp.settings;
    }
  }
  const lndApp = g.apps.find((a) => a.app.id === "lnd") ? "lnd" : undefined;
  const lconf = o.lndConf ?? (lndApp && p.storage[lndApp]?.data ? join(hostDir(lndApp, "data") ?? "/nonexistent", "lnd.conf") : undefined);
  let walletPassword: string | undefined;
  if (lconf) {
    const bytes = readConf(lconf, o.lndConf !== undefined, diags);
    const lines = bytes && readConfLines(lconf, bytes, diags);
    const imp = lines && importLndConf(lconf, lines, diags);
    if (imp) {
      notCarried.push(...imp.notCarried);
      if (imp.network && network && imp.network !== network) diags.push({ file: lconf, message: `lnd runs on ${imp.network} but bitcoind on ${network}: fix the legacy configs first` });
      network ??= imp.network;
      if (imp.walletPasswordFile) {
        const host = containerPathOnHost(legacy, p, "lnd", imp.walletPasswordFile);
        const pw = host ? readPassword(join(o.root, host)) : undefined;
        if (pw === undefined) notes.push(`lnd's wallet-unlock-password-file ${imp.walletPasswordFile} could not be read on the host: put the wallet password in ${join(o.secrets, appSecretName("lnd", WALLET_SECRET))} (0600) before apply, or lnd will wait locked`);
        else walletPassword = pw;
      } else if (lndApp && p.storage[lndApp]) {
        notes.push(`lnd.conf has no wallet-unlock-password-file: put the existing wallet's password in ${join(o.secrets, appSecretName("lnd", WALLET_SECRET))} (0600) before apply, or unlock lnd by hand after each start`);
      }
    }
  }
  if (diags.length) throw new UserError(diags);
  if (invalid.length || failed.length) {
    throw new Failure(failed.length ? "failed" : "invalid", `${[...invalid, ...failed].map((m) => `adopt: ${m}`).join("\n")}\nnothing written`);
  }

  // The selection file, edited in place.
  const text = readFileSync(o.select, "utf8");
  const doc = parseDocument(text);
  for (const [app, sources] of Object.entries(p.storage)) for (const [source, target] of Object.entries(sources)) doc.setIn(["storage", app, source], target);
  if (network && network !== sel.settings.bitcoin_network) doc.setIn(["settings", "bitcoin_network"], network);
  const existing = new Set((sel.rpc_users ?? []).map((u) => u.name));
  const newUsers = rpcUsers.filter((u) => !existing.has(u.name));
  if (newUsers.length) addRpcUsers(doc, newUsers);
  let next = doc.toString({ flowCollectionPadding: false, lineWidth: 0 });
  // Typed settings through the node-settings edit (checked against the provider's declarations).
  for (const [app, values] of Object.entries(carried)) {
    for (const [name, value] of Object.entries(values)) {
      if (sel.app_settings?.[app]?.[name] === value) continue;
      const r = setAppSetting(next, app, name, value, g.apps);
      if (r.ok) next = parseDocument(r.text).toString({ flowCollectionPadding: false, lineWidth: 0 });
      else notes.push(`${name}=${String(value)} from the legacy bitcoin.conf not set: ${r.message}`);
    }
  }
  const changed = Object.keys(p.storage).length > 0 || (network !== undefined && network !== sel.settings.bitcoin_network) || newUsers.length > 0 || next !== doc.toString({ flowCollectionPadding: false, lineWidth: 0 });
  if (!changed) next = text;
  // What apply would compile from it: any error (a carried prune=550 with an app that needs the
  // whole chain, a port clash…) is reported against the selection now, and nothing is written.
  if (changed) checkProposal(o, next);
  const diff = await unifiedDiff(o.select, text, next);

  const secretNames = [...passwords.keys()].map(rpcUserSecretName).concat(walletPassword ? [appSecretName("lnd", WALLET_SECRET)] : []);
  if (o.write) {
    // Secrets first: the selection then never names a store user whose password is not there.
    const store = new SecretStore(o.secrets);
    const sd: Diagnostic[] = [];
    for (const [name, pw] of passwords) if (!store.preset(rpcUserSecretName(name), pw, sd)) notes.push(`the store already has ${rpcUserSecretName(name)}: kept it`);
    if (walletPassword && !store.preset(appSecretName("lnd", WALLET_SECRET), walletPassword, sd)) notes.push(`the store already has ${appSecretName("lnd", WALLET_SECRET)}: kept it`);
    if (sd.length) throw new UserError(sd);
    store.persist();
    if (next !== text) writeFileAtomic(o.select, next, statSync(o.select).mode & 0o777);
  }
  return {
    matched: p.matched,
    storage: p.storage,
    unmapped_mounts: p.unmapped_mounts,
    fresh: p.fresh,
    ownership,
    settings: {
      ...(network ? { bitcoin_network: network } : {}),
      ...(Object.keys(carried).length ? { app_settings: carried } : {}),
    },
    rpc_users: rpcUsers,
    not_carried: notCarried,
    secrets: secretNames,
    notes,
    diff,
    written: o.write && next !== text,
  };
}

/** Compile the proposed selection (review secrets, a private temp copy); diagnostics name the real file. */
function checkProposal(o: AdoptOptions, text: string): void {
  const dir = mkdtempSync(join(tmpdir(), "archy-adopt-"));
  try {
    const tmp = join(dir, "selection.yaml");
    writeFileSync(tmp, text, { mode: 0o600 });
    const r = compile({ manifests: o.manifests, select: tmp, secrets: new ReviewSecrets() });
    if (r.diagnostics.length) throw new UserError(r.diagnostics.map((d) => (d.file === tmp ? { ...d, file: `${o.select} (as adopt would write it)` } : d)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function readContainers(adapter: SystemAdapter): Promise<Inspect[]> {
  const ps = await adapter.run("podman", ["ps", "-a", "--format", "json"], { timeoutMs: 60_000 });
  if (ps.code !== 0) throw new Failure("failed", `adopt: podman ps failed (exit ${ps.code}): ${ps.stderr.trim()}`);
  const list = parseJson<{ Id: string }[]>(ps.stdout, "podman ps") ?? [];
  if (list.length === 0) return [];
  const ins = await adapter.run("podman", ["container", "inspect", ...list.map((c) => c.Id)], { timeoutMs: 60_000 });
  if (ins.code !== 0) throw new Failure("failed", `adopt: podman container inspect failed (exit ${ins.code}): ${ins.stderr.trim()}`);
  return parseJson<Inspect[]>(ins.stdout, "podman container inspect") ?? [];
}

async function volumeMountpoint(adapter: SystemAdapter, name: string): Promise<string | undefined> {
  const r = await adapter.run("podman", ["volume", "inspect", name], { timeoutMs: 60_000 });
  if (r.code !== 0) return undefined;
  return parseJson<{ Mountpoint?: string }[]>(r.stdout, "podman volume inspect")?.[0]?.Mountpoint;
}

function parseJson<T>(s: string, what: string): T | undefined {
  try {
    return (s.trim() === "" ? undefined : JSON.parse(s)) as T | undefined;
  } catch {
    throw new Failure("failed", `adopt: ${what} printed something that is not JSON`);
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function mergeStorage<T extends Record<string, Record<string, string>>>(a: T | undefined, b: Record<string, Record<string, string>>): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [app, s] of Object.entries(a ?? {})) out[app] = { ...s };
  for (const [app, s] of Object.entries(b)) out[app] = { ...(out[app] ?? {}), ...s };
  return out;
}

/** Data owned by a uid other than the container's numeric `user:` (never changed by adopt: reported). */
function checkOwnership(g: Graph, sel: Parameters<typeof resolveSource>[0], hostDir: (app: string, source: string) => string | undefined): Ownership[] {
  const out: Ownership[] = [];
  for (const n of g.containers) {
    const user = n.spec.user?.split(":")[0];
    const expected = user === "root" ? 0 : user && /^[0-9]+$/.test(user) ? Number(user) : undefined;
    if (expected === undefined) continue;
    for (const v of n.spec.volumes ?? []) {
      if (v.app || v.source.startsWith("/") || v.read_only) continue;
      if (resolveSource(sel, n.app.id, v.source).kind === "default") continue;
      const dir = hostDir(n.app.id, v.source);
      if (!dir) continue;
      try {
        const uid = statSync(dir).uid;
        if (uid !== expected && expected !== 0) out.push({ app: n.app.id, source: v.source, path: dir, owner: uid, expected, container: n.name });
      } catch {
        /* reported as missing */
      }
    }
  }
  return out;
}

function readConf(file: string, explicit: boolean, diags: Diagnostic[]): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !explicit) return undefined; // no legacy config in the data dir: nothing to carry
    diags.push({ file, message: `cannot read: ${code === "EACCES" ? "permission denied (run adopt as root)" : code}` });
    return undefined;
  }
}

function readPassword(p: string): string | undefined {
  try {
    const s = readFileSync(p, "utf8").replace(/[\r\n]+$/, "");
    return /^[\x21-\x7e]{1,256}$/.test(s) ? s : undefined;
  } catch {
    return undefined;
  }
}

/** A path inside the legacy container of `app` → the host path, through that container's mounts. */
function containerPathOnHost(legacy: Inspect[], p: Proposal, app: string, path: string): string | undefined {
  const m = p.matched.find((x) => x.app === app);
  const c = m && legacy.find((x) => x.Id.startsWith(m.id));
  for (const mt of [...(c?.Mounts ?? [])].sort((a, b) => b.Destination.length - a.Destination.length)) {
    if (path === mt.Destination || path.startsWith(`${mt.Destination}/`)) return mt.Source + path.slice(mt.Destination.length);
  }
  return undefined;
}

function addRpcUsers(doc: Document, users: RpcUser[]): void {
  const seq = doc.getIn(["rpc_users"]);
  const items = users.map((u) => {
    const node = doc.createNode(u.rpcauth ? { name: u.name, rpcauth: u.rpcauth } : { name: u.name, secret: true });
    if (isMap(node)) node.flow = true;
    return node;
  });
  if (isSeq(seq)) for (const i of items) seq.items.push(i);
  else doc.setIn(["rpc_users"], doc.createNode(items));
}

async function unifiedDiff(file: string, a: string, b: string): Promise<string> {
  if (a === b) return "";
  const { createTwoFilesPatch } = await import("diff");
  return createTwoFilesPatch(file, file, a, b, "", "", { context: 3 });
}
