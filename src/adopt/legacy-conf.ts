// Reading an adopted node's own bitcoin.conf and lnd.conf (docs/adopt.md), to carry the
// network, typed settings and RPC credentials over. Read only: nothing is ever written in
// these formats. A line reader rather than an INI parser, because every line is needed
// with its number (not_carried names file:line) and bitcoin.conf repeats keys (rpcauth=).
import { cmp, type Diagnostic } from "../manifest/diagnostics.js";
import type { SettingDecl, SettingValue } from "../manifest/schema.js";
import { checkValue } from "../settings/resolve.js";

export interface ConfLine {
  line: number;
  section: string;
  key: string;
  value: string;
}

export type Network = "mainnet" | "testnet" | "testnet4" | "signet" | "regtest";
const CHAINS: Record<string, Network> = { main: "mainnet", test: "testnet", testnet4: "testnet4", signet: "signet", regtest: "regtest" };
const SECTION_OF: Record<Network, string> = { mainnet: "main", testnet: "test", testnet4: "testnet4", signet: "signet", regtest: "regtest" };

/** Parse `[section]` and `key=value` lines (`#`/`;` comments). Invalid UTF-8 and malformed lines are diagnostics. */
export function readConfLines(file: string, bytes: Buffer, diags: Diagnostic[]): ConfLine[] | undefined {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const at = bytes.findIndex((b) => b >= 0x80);
    diags.push({ file, line: bytes.subarray(0, Math.max(0, at)).filter((b) => b === 0x0a).length + 1, col: 1, message: "file is not valid UTF-8" });
    return undefined;
  }
  const out: ConfLine[] = [];
  let section = "";
  const start = diags.length;
  text.split(/\r?\n/).forEach((raw, i) => {
    const s = raw.trim();
    if (s === "" || s.startsWith("#") || s.startsWith(";")) return;
    const sec = /^\[([^\]]*)\]$/.exec(s);
    if (sec) {
      section = sec[1]!.trim();
      return;
    }
    const eq = s.indexOf("=");
    if (eq <= 0) {
      diags.push({ file, line: i + 1, col: 1, message: `expected key=value or [section], got ${JSON.stringify(s.slice(0, 60))}` });
      return;
    }
    // bitcoind drops a trailing " # comment" (GetConfigOptions); lnd does not: keep the value whole here.
    out.push({ line: i + 1, section, key: s.slice(0, eq).trim(), value: s.slice(eq + 1).trim() });
  });
  return diags.length > start ? undefined : out;
}

export interface NotCarried {
  file: string;
  line: number;
  key: string;
  why: string;
}

export interface RpcUser {
  name: string;
  rpcauth?: string;
  secret?: true;
}

export interface BitcoinImport {
  network: Network;
  /** Typed values of the settings the bitcoin provider declares (manifest `settings:`), by setting name. */
  settings: Record<string, SettingValue>;
  rpcUsers: RpcUser[];
  /** rpcuser → its plaintext password: moved into the secrets store by `adopt --write`, never printed. */
  passwords: Map<string, string>;
  notCarried: NotCarried[];
}

// bitcoind options that are repeatable; any other key twice in one section is ambiguous.
const REPEATABLE = new Set(["rpcauth", "addnode", "connect", "seednode", "whitelist", "whitebind", "bind", "rpcbind", "rpcallowip", "externalip", "onlynet", "debug", "debugexclude", "deprecatedrpc", "rpcwhitelist", "loadwallet", "wallet", "includeconf", "uacomment"]);
// bitcoind's defaults (Bitcoin Core / Knots 28-29, init.cpp) for options the catalog declares as settings.
const BITCOIND_DEFAULTS: Record<string, SettingValue> = {
  txindex: false, prune: 0, dbcache: 450, maxconnections: 125, maxmempool: 300, blocksonly: false, blockfilterindex: false, peerblockfilters: false, coinstatsindex: false, mempoolexpiry: 336, listen: true,
};
// What the generated bitcoin.conf decides itself.
const GENERATED = new Set(["server", "rpcbind", "rpcallowip", "rpcport", "port", "bind", "zmqpubrawblock", "zmqpubrawtx", "zmqpubhashblock", "zmqpubhashtx", "zmqpubsequence", "datadir", "rpcwhitelist", "rpcwhitelistdefault", "whitebind", "proxy", "listenonion", "torcontrol", "torpassword", "printtoconsole"]);

/** bitcoin.conf → network, typed settings, RPC users; everything else in notCarried, never dropped. */
export function importBitcoinConf(file: string, lines: ConfLine[], catalogUsers: ReadonlySet<string>, declared: Record<string, SettingDecl>, diags: Diagnostic[]): BitcoinImport | undefined {
  // bitcoin.conf key → the provider's setting written as that key.
  const byKey = new Map<string, [string, SettingDecl]>();
  for (const [name, d] of Object.entries(declared)) if (d.to.config === "bitcoin.conf") byKey.set(d.to.option ?? name, [name, d]);
  const start = diags.length;
  const notCarried: NotCarried[] = [];
  const skip = (l: ConfLine, why: string) => notCarried.push({ file, line: l.line, key: l.section ? `[${l.section}] ${l.key}` : l.key, why });
  for (const l of lines) if (l.key === "includeconf") diags.push({ file, line: l.line, col: 1, message: `includeconf=${l.value}: included files are not read by adopt; merge "${l.value}" into this file first, or pass the file that holds the settings with --bitcoin-conf` });
  // Duplicate single-valued keys: which one bitcoind used depends on its version; refuse to guess.
  const seen = new Map<string, number>();
  for (const l of lines) {
    const k = `${l.section}\0${l.key}`;
    if (REPEATABLE.has(l.key)) continue;
    const prev = seen.get(k);
    if (prev !== undefined) diags.push({ file, line: l.line, col: 1, message: `"${l.key}" is set twice${l.section ? ` in [${l.section}]` : ""} (also line ${prev}); keep one` });
    else seen.set(k, l.line);
  }
  // The network: chain= or the legacy flags, top level only.
  let network: Network = "mainnet";
  const flags = lines.filter((l) => l.section === "" && (l.key === "chain" || (["testnet", "signet", "regtest"].includes(l.key) && l.value === "1")));
  if (flags.length > 1) diags.push({ file, line: flags[1]!.line, col: 1, message: `the network is chosen twice (line ${flags[0]!.line} and here); keep one` });
  const f = flags[0];
  if (f) {
    const n = f.key === "chain" ? CHAINS[f.value] : f.key === "testnet" ? "testnet" : (f.key as Network);
    if (!n) diags.push({ file, line: f.line, col: 1, message: `chain=${f.value} is not one of main, test, testnet4, signet, regtest` });
    else network = n;
  }
  if (diags.length > start) return undefined;
  const active = SECTION_OF[network];
  const settings: Record<string, SettingValue> = {};
  const rpcUsers: RpcUser[] = [];
  const passwords = new Map<string, string>();
  let rpcuser: ConfLine | undefined;
  let rpcpassword: ConfLine | undefined;
  for (const l of lines) {
    if (flags.includes(l) || l.key === "testnet" || l.key === "signet" || l.key === "regtest") {
      if (!flags.includes(l)) skip(l, "network flag that is off");
      continue;
    }
    // Options in another network's section never applied on this node.
    if (l.section !== "" && l.section !== active) {
      skip(l, `for the ${l.section} network, not this node's (${network})`);
      continue;
    }
    const decl = byKey.get(l.key);
    if (decl) {
      const [name, d] = decl;
      const v: SettingValue | undefined =
        d.type === "boolean" ? (l.value === "1" ? true : l.value === "0" ? false : undefined) : d.type === "integer" ? (/^-?[0-9]{1,12}$/.test(l.value) ? Number(l.value) : undefined) : l.value;
      const bad = v === undefined ? `expected ${d.type === "boolean" ? "0 or 1" : "a whole number"}` : checkValue(d, v);
      if (bad !== undefined) {
        skip(l, `setting ${name}: the legacy value is not accepted (${bad}); the default applies unless you set app_settings`);
        continue;
      }
      // A section value overrides the top level for that network, as in bitcoind.
      if (l.section === active || !(name in settings)) settings[name] = v!;
      continue;
    }
    if (l.key === "rpcauth") {
      const m = /^([^:]+):([0-9a-f]{16,64}\$[0-9a-f]{64})$/.exec(l.value);
      if (!m) skip(l, "not a user:salt$hash line");
      else if (catalogUsers.has(m[1]!)) skip(l, `user "${m[1]}" is a catalog app's: its rpcauth line is generated`);
      else if (rpcUsers.some((u) => u.name === m[1])) skip(l, `a second rpcauth line for "${m[1]}"`);
      else rpcUsers.push({ name: m[1]!, rpcauth: l.value });
      continue;
    }
    if (l.key === "rpcuser") {
      rpcuser = l;
      continue;
    }
    if (l.key === "rpcpassword") {
      rpcpassword = l;
      continue;
    }
    skip(l, GENERATED.has(l.key) ? "the generated bitcoin.conf sets it" : "not a setting archy-quadlet carries over");
  }
  if (rpcuser && rpcpassword) {
    const name = rpcuser.value;
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) diags.push({ file, line: rpcuser.line, col: 1, message: `rpcuser "${name}" cannot be carried: names are 1-64 of letters, digits and ._-` });
    else if (catalogUsers.has(name)) diags.push({ file, line: rpcuser.line, col: 1, message: `rpcuser "${name}" is a catalog app's rpc user name; rename it in the legacy file (its clients must then use the new name)` });
    else if (!/^[\x21-\x7e]{1,256}$/.test(rpcpassword.value)) diags.push({ file, line: rpcpassword.line, col: 1, message: "rpcpassword cannot be carried: it must be 1-256 printable ASCII characters without spaces" });
    else if (rpcUsers.some((u) => u.name === name)) skip(rpcuser, `"${name}" also has an rpcauth line, which is carried`);
    else {
      rpcUsers.push({ name, secret: true });
      passwords.set(name, rpcpassword.value);
    }
  } else {
    for (const l of [rpcuser, rpcpassword]) if (l) skip(l, `${l.key} without ${l.key === "rpcuser" ? "rpcpassword" : "rpcuser"}`);
  }
  if (diags.length > start) return undefined;
  // A key the legacy file leaves out ran at bitcoind's own default; where the catalog's default
  // differs (txindex: bitcoind 0, the catalog true), carry bitcoind's, or apply would change the
  // node (a txindex build takes hours to days on a full chain).
  for (const [key, [name, d]] of byKey) {
    const theirs = BITCOIND_DEFAULTS[key];
    if (theirs === undefined || name in settings || d.default === theirs) continue;
    if (checkValue(d, theirs) === undefined) settings[name] = theirs;
  }
  rpcUsers.sort((a, b) => cmp(a.name, b.name));
  return { network, settings, rpcUsers, passwords, notCarried };
}

export interface LndImport {
  network?: Network;
  /** lnd's wallet-unlock-password-file (a path inside the legacy container), if set. */
  walletPasswordFile?: string;
  notCarried: NotCarried[];
}

const LND_NETS: Record<string, Network> = { "bitcoin.mainnet": "mainnet", "bitcoin.testnet": "testnet", "bitcoin.testnet4": "testnet4", "bitcoin.signet": "signet", "bitcoin.regtest": "regtest" };
const LND_GENERATED = /^(bitcoind\.|bitcoin\.node$|bitcoin\.active$|tor\.|wallet-unlock-allow-create$|rpclisten$|restlisten$|listen$|tlsextradomain$|adminmacaroonpath$|readonlymacaroonpath$|invoicemacaroonpath$|lnddir$)/;

/** lnd.conf (INI sections, case-insensitive): the network, the wallet password file; the rest listed. */
export function importLndConf(file: string, lines: ConfLine[], diags: Diagnostic[]): LndImport | undefined {
  const notCarried: NotCarried[] = [];
  let network: Network | undefined;
  let walletPasswordFile: string | undefined;
  const start = diags.length;
  for (const l of lines) {
    const key = l.key.toLowerCase();
    const where = l.section ? `[${l.section}] ${l.key}` : l.key;
    const net = LND_NETS[key];
    if (net && /^(1|true)$/i.test(l.value)) {
      if (network && network !== net) diags.push({ file, line: l.line, col: 1, message: `a second network (${net}; already ${network})` });
      network = net;
      continue;
    }
    if (key === "wallet-unlock-password-file") {
      walletPasswordFile = l.value;
      continue;
    }
    notCarried.push({ file, line: l.line, key: where, why: LND_GENERATED.test(key) ? "the generated lnd.conf sets it" : "not a setting archy-quadlet carries over" });
  }
  return diags.length > start ? undefined : { network, walletPasswordFile, notCarried };
}
