// The stand-in runtime: one small program that plays every catalog image's
// processes inside the e2e guest (no registry is reachable, so real images
// cannot be pulled). Each stand-in image carries this file, the guest's own
// node binary, and /standin/contract.json describing the upstream image it
// replaces (see contracts.ts). Shims named like the upstream executables
// (bitcoind, lncli, pg_isready, ...) call `node runtime.mjs <role> ...args`.
//
// A stand-in honours its contract or fails loudly, as the real program would:
// it reads the files the real program reads (as the user it runs as, on a
// read-only root), writes only where the real program writes, and
// authenticates to the bitcoind stand-in with the credential it is given,
// which checks it against bitcoin.conf's rpcauth lines (HMAC-SHA256).
// Everything it does is logged on stderr with the prefix "standin".
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { connect, createServer } from "node:net";
import { join, resolve as resolvePath } from "node:path";

const contract = existsSync("/standin/contract.json") ? JSON.parse(readFileSync("/standin/contract.json", "utf8")) : {};
const [role, ...args] = process.argv.slice(2);
const log = (...m) => process.stderr.write(`standin ${role}: ${m.join(" ")}\n`);
const die = (msg, code = 1) => {
  log(`FATAL ${msg}`);
  process.exit(code);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));

// ---- helpers ----------------------------------------------------------------

/** `${VAR}` / `${VAR:-default}` from the environment; a missing VAR is fatal (the program needs it). */
function expand(s) {
  return String(s).replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, v, d) => {
    const val = process.env[v];
    if (val !== undefined && val !== "") return val;
    if (d !== undefined) return d;
    die(`environment variable ${v} is not set`);
  });
}

/** --flag=value or --flag value (also -flag=value for bitcoind-style options). */
function flag(argv, name, dflt) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === name && i + 1 < argv.length) return argv[i + 1];
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  }
  return dflt;
}
function flags(argv, name) {
  const out = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name && i + 1 < argv.length) out.push(argv[i + 1]);
    else if (argv[i].startsWith(`${name}=`)) out.push(argv[i].slice(name.length + 1));
  }
  return out;
}

function mustRead(path, what) {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    die(`cannot read ${what} ${path}: ${e.code} (uid ${process.getuid()})`);
  }
}

function mustWriteDir(dir) {
  try {
    mkdirSync(dir, { recursive: true });
    const probe = join(dir, `.standin-write-${process.pid}`);
    writeFileSync(probe, "x");
    rmSync(probe);
  } catch (e) {
    die(`cannot write to ${dir}: ${e.code} (uid ${process.getuid()})`);
  }
}

/** ini/bitcoin.conf-ish: top-level keys plus [section] keys; repeated keys kept in order. */
function parseConf(text) {
  const top = new Map();
  const sections = new Map();
  let cur = top;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      cur = sections.get(sec[1].toLowerCase()) ?? new Map();
      sections.set(sec[1].toLowerCase(), cur);
      continue;
    }
    const i = line.indexOf("=");
    if (i < 0) continue;
    const k = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    cur.set(k, [...(cur.get(k) ?? []), v]);
  }
  return { top, sections };
}

function listen(port, host, onConn) {
  return new Promise((res, rej) => {
    const srv = createServer(onConn ?? ((s) => s.end()));
    srv.on("error", rej);
    srv.listen(Number(port), host, () => {
      log(`listening on ${host}:${port}`);
      res(srv);
    });
  });
}

function tcpProbe(host, port, timeoutMs = 3000) {
  return new Promise((res) => {
    const s = connect({ host, port: Number(port) });
    const t = setTimeout(() => (s.destroy(), res(false)), timeoutMs);
    s.on("connect", () => (clearTimeout(t), s.end(), res(true)));
    s.on("error", () => (clearTimeout(t), res(false)));
  });
}

function httpJson(url, { method = "GET", body, auth, timeoutMs = 5000 } = {}) {
  return new Promise((res, rej) => {
    const u = new URL(url);
    const headers = { "content-type": "application/json" };
    if (auth) headers.authorization = `Basic ${Buffer.from(auth).toString("base64")}`;
    const req = httpRequest({ host: u.hostname, port: u.port || 80, path: u.pathname + u.search, method, headers, timeout: timeoutMs }, (r) => {
      let data = "";
      r.on("data", (d) => (data += d));
      r.on("end", () => res({ status: r.statusCode, body: data }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", rej);
    if (body) req.write(body);
    req.end();
  });
}

/**
 * Authenticate to bitcoind's RPC as user/pass. Connection errors and warm-up
 * are retried (bitcoind may still be starting); a 401/403 is a wrong
 * credential or a missing whitelist entry and fails after a few attempts.
 */
async function bitcoinRpcLogin({ host, port, user, pass, method = "getblockchaininfo" }) {
  let denied = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await httpJson(`http://${host}:${port}/`, { method: "POST", auth: `${user}:${pass}`, body: JSON.stringify({ jsonrpc: "1.0", id: "standin", method, params: [] }) });
      if (r.status === 200) {
        log(`bitcoin rpc auth ok as ${user} at ${host}:${port}`);
        return JSON.parse(r.body).result;
      }
      if (r.status === 401 || r.status === 403) {
        if (++denied >= 3) die(`bitcoin rpc at ${host}:${port} refused user ${user}: HTTP ${r.status}`);
      } else log(`bitcoin rpc ${host}:${port}: HTTP ${r.status} ${r.body.slice(0, 120)} (retrying)`);
    } catch (e) {
      if (attempt % 10 === 0) log(`bitcoin rpc ${host}:${port}: ${e.message} (retrying)`);
    }
    await sleep(1000);
  }
}

async function waitTcp(host, port) {
  for (let i = 0; ; i++) {
    if (await tcpProbe(host, port)) return;
    if (i % 10 === 0) log(`waiting for ${host}:${port}`);
    await sleep(1000);
  }
}

const CHAINS = {
  main: { dir: "", rpc: 8332, p2p: 8333, lnd: "mainnet" },
  test: { dir: "testnet3", rpc: 18332, p2p: 18333, lnd: "testnet" },
  testnet4: { dir: "testnet4", rpc: 48332, p2p: 48333, lnd: "testnet4" },
  signet: { dir: "signet", rpc: 38332, p2p: 38333, lnd: "signet" },
  regtest: { dir: "regtest", rpc: 18443, p2p: 18444, lnd: "regtest" },
};

/** Effective bitcoind settings: -conf file, its chain, and the chain's section. */
function bitcoinSettings(argv) {
  const confPath = flag(argv, "-conf");
  const datadir = flag(argv, "-datadir", "/root/.bitcoin");
  const conf = confPath ? parseConf(mustRead(confPath, "bitcoin.conf")) : parseConf("");
  const get = (k) => {
    const chainName = chain();
    const sectionName = chainName === "test" ? "test" : chainName;
    return conf.sections.get(sectionName)?.get(k) ?? conf.top.get(k) ?? [];
  };
  const chain = () => {
    const c = conf.top.get("chain")?.[0];
    if (c) return c;
    for (const n of ["regtest", "signet", "testnet4"]) if (conf.top.get(n)?.[0] === "1") return n;
    if (conf.top.get("testnet")?.[0] === "1") return "test";
    return "main";
  };
  const c = chain();
  if (!CHAINS[c]) die(`unknown chain ${c}`);
  return { datadir, chain: c, get, netdir: join(datadir, CHAINS[c].dir) };
}

/** Network names the catalog's programs use → bitcoind's chain name. */
const CHAIN_NAMES = { main: "main", mainnet: "main", bitcoin: "main", test: "test", testnet: "test", testnet3: "test", testnet4: "testnet4", signet: "signet", regtest: "regtest" };

// ---- roles ------------------------------------------------------------------

const roles = {
  /** bitcoind: RPC with rpcauth/cookie/whitelist/allowip checks, P2P and ZMQ ports. */
  async bitcoind(argv) {
    const s = bitcoinSettings(argv);
    // bitcoind >= 25 (common/init.cpp InitConfig): a bitcoin.conf in the datadir that -conf leaves
    // unused is a startup error unless allowignoredconf (command line or the -conf file) — an adopted
    // node keeps the old orchestrator's bitcoin.conf there.
    const confArg = flag(argv, "-conf");
    const shadowed = join(s.datadir, "bitcoin.conf");
    const allowIgnored = argv.includes("-allowignoredconf") || ["1", ""].includes(flag(argv, "-allowignoredconf", "0")) || s.get("allowignoredconf").at(-1) === "1";
    if (confArg && existsSync(shadowed) && resolvePath(confArg) !== resolvePath(shadowed) && !allowIgnored) {
      die(`Data directory "${s.datadir}" contains a "bitcoin.conf" file which is ignored, because a different configuration file "${confArg}" from command line argument "-conf=${confArg}" is being used instead. - Set allowignoredconf=1 option to treat this condition as a warning, not an error.`);
    }
    mustWriteDir(s.netdir);
    const cookie = `__cookie__:${randomBytes(32).toString("hex")}`;
    writeFileSync(join(s.netdir, ".cookie"), cookie, { mode: 0o600 });
    const auth = new Map();
    for (const l of s.get("rpcauth")) {
      const m = /^([^:]+):([0-9a-f]+)\$([0-9a-f]{64})$/.exec(l);
      if (!m) die(`malformed rpcauth line: ${l.split(":")[0]}`);
      auth.set(m[1], { salt: m[2], hash: m[3] });
    }
    const whitelist = new Map();
    for (const l of s.get("rpcwhitelist")) {
      const [u, methods] = l.split(":");
      whitelist.set(u, new Set(methods.split(",").map((x) => x.trim())));
    }
    const allow = ["127.0.0.1", ...s.get("rpcallowip")];
    const ipv4 = (ip) => ip.replace(/^::ffff:/, "").split(".").reduce((a, b) => (a << 8) + Number(b), 0) >>> 0;
    const allowed = (ip) =>
      allow.some((a) => {
        const [net, bits = "32"] = a.split("/");
        const mask = bits === "0" ? 0 : (~0 << (32 - Number(bits))) >>> 0;
        return (ipv4(ip) & mask) === (ipv4(net) & mask);
      });
    const started = Date.now();
    const readyAfter = Number(contract.readyAfterSec ?? 2) * 1000;
    const seen = new Set();
    const height = 120;
    const results = {
      getblockchaininfo: () => ({ chain: s.chain, blocks: height, headers: height, bestblockhash: "00".repeat(32), verificationprogress: 1, initialblockdownload: false, pruned: false, size_on_disk: 123456 }),
      getnetworkinfo: () => ({ version: 290200, subversion: contract.subversion ?? "/Satoshi:29.2.0/", protocolversion: 70016, connections: 8, connections_in: 2, connections_out: 6, networkactive: true, warnings: "" }),
      getpeerinfo: () => Array.from({ length: 8 }, (_, i) => ({ id: i, addr: `10.0.0.${i + 1}:8333`, inbound: i < 2 })),
      getblockcount: () => height,
      getbestblockhash: () => "00".repeat(32),
      getblockhash: () => "00".repeat(32),
      getmempoolinfo: () => ({ loaded: true, size: 3, bytes: 900, usage: 4000 }),
      getindexinfo: () => ({ txindex: { synced: true, best_block_height: height } }),
      getrawmempool: () => [],
      estimatesmartfee: () => ({ feerate: 0.0001, blocks: 2 }),
      uptime: () => Math.floor((Date.now() - started) / 1000),
      getzmqnotifications: () => [],
      getdeploymentinfo: () => ({}),
    };
    const handler = (req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        const reply = (status, obj) => {
          res.writeHead(status, { "content-type": "application/json" });
          res.end(obj === undefined ? "" : JSON.stringify(obj));
        };
        if (!allowed(req.socket.remoteAddress)) return reply(403);
        const m = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
        const [user, ...rest] = m ? Buffer.from(m[1], "base64").toString().split(":") : [];
        const pass = rest.join(":");
        let ok = false;
        if (user === "__cookie__") ok = `${user}:${pass}` === cookie;
        else if (user && auth.has(user)) {
          const { salt, hash } = auth.get(user);
          const got = createHmac("sha256", salt).update(pass).digest();
          ok = timingSafeEqual(got, Buffer.from(hash, "hex"));
        }
        if (!ok) {
          log(`rpc auth FAILED user=${user ?? "(none)"} from ${req.socket.remoteAddress}`);
          return reply(401);
        }
        let call;
        try {
          call = JSON.parse(body);
        } catch {
          return reply(500, { result: null, error: { code: -32700, message: "Parse error" }, id: null });
        }
        const calls = Array.isArray(call) ? call : [call];
        const out = [];
        for (const c of calls) {
          const wl = whitelist.get(user);
          if (wl && !wl.has(c.method)) {
            log(`rpc user=${user} method=${c.method} not whitelisted`);
            return reply(403);
          }
          if (!seen.has(user)) {
            seen.add(user);
            log(`rpc auth ok user=${user}`);
          }
          if (Date.now() - started < readyAfter) out.push({ result: null, error: { code: -28, message: "Loading block index…" }, id: c.id });
          else if (results[c.method]) out.push({ result: results[c.method](c.params), error: null, id: c.id });
          else out.push({ result: null, error: { code: -32601, message: "Method not found" }, id: c.id });
        }
        const status = out.some((o) => o.error?.code === -28) ? 500 : out.some((o) => o.error?.code === -32601) ? 404 : 200;
        reply(status, Array.isArray(call) ? out : out[0]);
      });
    };
    const rpcPort = Number(s.get("rpcport")[0] ?? CHAINS[s.chain].rpc);
    const binds = s.get("rpcbind").length ? s.get("rpcbind") : ["127.0.0.1"];
    for (const b of binds) await new Promise((r, j) => createHttpServer(handler).on("error", j).listen(rpcPort, b, r));
    log(`rpc on ${binds.join(",")}:${rpcPort} chain=${s.chain} rpcauth users=${auth.size}`);
    await listen(Number(s.get("port")[0] ?? CHAINS[s.chain].p2p), "0.0.0.0");
    for (const z of [...s.get("zmqpubrawblock"), ...s.get("zmqpubrawtx")]) {
      const u = new URL(z.replace(/^tcp:/, "http:"));
      await listen(u.port, u.hostname).catch(() => {});
    }
    setInterval(() => {}, 1 << 30);
  },

  /** bitcoin-cli: cookie from the network dir (or -rpcuser/-rpcpassword), one call. */
  async "bitcoin-cli"(argv) {
    const s = bitcoinSettings(argv);
    const method = argv.find((a) => !a.startsWith("-"));
    const user = flag(argv, "-rpcuser");
    const auth = user ? `${user}:${flag(argv, "-rpcpassword", "")}` : mustRead(join(s.netdir, ".cookie"), "cookie file").trim();
    const port = flag(argv, "-rpcport", s.get("rpcport")[0] ?? CHAINS[s.chain].rpc);
    const host = flag(argv, "-rpcconnect", "127.0.0.1");
    try {
      const r = await httpJson(`http://${host}:${port}/`, { method: "POST", auth, body: JSON.stringify({ jsonrpc: "1.0", id: "cli", method, params: [] }) });
      const j = r.body ? JSON.parse(r.body) : {};
      if (r.status !== 200 || j.error) {
        process.stderr.write(`error: ${j.error ? JSON.stringify(j.error) : `HTTP ${r.status}`}\n`);
        process.exit(j.error?.code === -28 ? 28 : 1);
      }
      process.stdout.write(`${JSON.stringify(j.result, null, 2)}\n`);
    } catch (e) {
      process.stderr.write(`error: Could not connect to the server ${host}:${port} (${e.message})\n`);
      process.exit(1);
    }
  },

  /**
   * lnd: lnd.conf → bitcoind login + ZMQ; TLS cert; REST (HTTPS) with
   * /v1/state, /v1/genseed, /v1/initwallet like lnd's WalletUnlocker; a wallet
   * is unlocked at start from wallet-unlock-password-file (whose content must
   * be the wallet's password); macaroons exist only once the wallet is open.
   */
  async lnd(argv) {
    const confPath = flag(argv, "--configfile");
    const lnddir = flag(argv, "--lnddir", "/root/.lnd");
    const conf = parseConf(confPath ? mustRead(confPath, "lnd.conf") : "");
    const all = new Map([...conf.top, ...[...conf.sections.values()].flatMap((m) => [...m])]);
    const get = (k) => flag(argv, `--${k}`) ?? all.get(k)?.at(-1);
    const on = (k) => ["1", "true"].includes(get(k) ?? "") || argv.includes(`--${k}`);
    const net = ["mainnet", "testnet", "testnet4", "signet", "regtest"].find((n) => on(`bitcoin.${n}`));
    if (!net) die("no bitcoin network selected (bitcoin.mainnet/testnet/signet/regtest)");
    if (get("bitcoin.node") !== "bitcoind") die("bitcoin.node is not bitcoind");
    const [host, port] = (get("bitcoind.rpchost") ?? "localhost").split(":");
    mustWriteDir(lnddir);
    const info = await bitcoinRpcLogin({ host, port: port ?? 8332, user: get("bitcoind.rpcuser") ?? die("bitcoind.rpcuser missing"), pass: get("bitcoind.rpcpass") ?? die("bitcoind.rpcpass missing") });
    if (CHAIN_NAMES[net] !== info.chain) die(`lnd is on ${net} but bitcoind runs ${info.chain}`);
    for (const k of ["bitcoind.zmqpubrawblock", "bitcoind.zmqpubrawtx"]) {
      const u = new URL((get(k) ?? die(`${k} missing`)).replace(/^tcp:/, "http:"));
      await waitTcp(u.hostname, u.port);
    }
    const chainDir = join(lnddir, "data/chain/bitcoin", net);
    mkdirSync(chainDir, { recursive: true, mode: 0o700 });
    const certPath = get("tlscertpath") ?? join(lnddir, "tls.cert");
    const keyPath = get("tlskeypath") ?? join(lnddir, "tls.key");
    if (!existsSync(certPath)) writeFileSync(certPath, readFileSync("/standin/tls.cert"), { mode: 0o644 });
    if (!existsSync(keyPath)) writeFileSync(keyPath, readFileSync("/standin/tls.key"), { mode: 0o600 });
    const macPaths = Object.fromEntries(["admin", "readonly", "invoice"].map((m) => [m, get(`${m}macaroonpath`) ?? join(chainDir, `${m}.macaroon`)]));
    const walletDb = join(chainDir, "wallet.db");
    const digest = (pw) => createHmac("sha256", "standin wallet").update(pw).digest("hex");
    let state = existsSync(walletDb) ? "LOCKED" : "NON_EXISTING";
    const open = () => {
      for (const [m, p] of Object.entries(macPaths)) writeFileSync(p, `standin-${m}-macaroon\n`, { mode: 0o640 });
      state = "SERVER_ACTIVE";
      log(`wallet open, macaroons at ${Object.values(macPaths).join(", ")}`);
    };
    const pwFile = get("wallet-unlock-password-file");
    const unlockPw = pwFile ? mustRead(pwFile, "wallet unlock password file").replace(/\n$/, "") : undefined;
    if (pwFile && !unlockPw) die(`wallet unlock password file ${pwFile} is empty`);
    if (state === "LOCKED" && unlockPw !== undefined) {
      if (readFileSync(walletDb, "utf8").trim() !== digest(unlockPw)) die("unable to unlock wallet: invalid passphrase");
      open();
    } else if (state === "NON_EXISTING" && unlockPw !== undefined && !on("wallet-unlock-allow-create")) {
      die("wallet-unlock-password-file is set but no wallet exists (see wallet-unlock-allow-create)");
    }
    log(`wallet state ${state} (network ${net})`);
    const rpc = (flag(argv, "--rpclisten") ?? "localhost:10009").split(":");
    await listen(rpc[1], rpc[0], (sock) => sock.end(`${JSON.stringify({ state })}\n`));
    const rest = (flag(argv, "--restlisten") ?? "localhost:8080").split(":");
    const { createServer: createHttps } = await import("node:https");
    const seed = Array.from({ length: 24 }, (_, i) => `word${i}`);
    const srv = createHttps({ cert: readFileSync(certPath), key: readFileSync(keyPath) }, (req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        const send = (code, obj) => (res.writeHead(code, { "content-type": "application/json" }), res.end(JSON.stringify(obj)));
        if (req.url === "/v1/state") return send(200, { state });
        if (req.url === "/v1/genseed" && state === "NON_EXISTING") return send(200, { cipher_seed_mnemonic: seed, enciphered_seed: "c3RhbmRpbg==" });
        if (req.url === "/v1/initwallet" && req.method === "POST" && state === "NON_EXISTING") {
          let j;
          try {
            j = JSON.parse(body);
          } catch {
            return send(400, { message: "bad json" });
          }
          const pw = Buffer.from(j.wallet_password ?? "", "base64").toString();
          if (pw.length < 8) return send(400, { message: "password must have at least 8 characters" });
          if (!Array.isArray(j.cipher_seed_mnemonic) || j.cipher_seed_mnemonic.length !== 24) return send(400, { message: "wrong cipher seed mnemonic length" });
          if (unlockPw !== undefined && pw !== unlockPw) log("initwallet: password differs from wallet-unlock-password-file (the next start cannot unlock)");
          writeFileSync(walletDb, digest(pw) + "\n", { mode: 0o600 });
          open();
          return send(200, { admin_macaroon: "c3RhbmRpbg==" });
        }
        send(state === "SERVER_ACTIVE" ? 404 : 503, { message: `wallet ${state}` });
      });
    });
    await new Promise((r, j) => srv.on("error", j).listen(Number(rest[1]), rest[0], r));
    log(`rest (https) on ${rest[0]}:${rest[1]}`);
    const p2p = (flag(argv, "--listen") ?? "0.0.0.0:9735").split(":");
    await listen(p2p[1], p2p[0]);
    setInterval(() => {}, 1 << 30);
  },

  /** lncli: `state` answers from the RPC port; other commands need the network's macaroon. */
  async lncli(argv) {
    const [host, port] = flag(argv, "--rpcserver", "localhost:10009").split(":");
    const cmd = argv.find((a) => !a.startsWith("-"));
    if (cmd !== "state") {
      const lnddir = flag(argv, "--lnddir", "/root/.lnd");
      const net = flag(argv, "--network", "mainnet");
      mustRead(flag(argv, "--macaroonpath", join(lnddir, "data/chain/bitcoin", net, "admin.macaroon")), "macaroon");
    }
    const line = await new Promise((res) => {
      const s = connect({ host, port: Number(port) });
      let d = "";
      s.on("data", (x) => (d += x));
      s.on("end", () => res(d));
      s.on("error", (e) => {
        process.stderr.write(`[lncli] rpc error: ${e.message}\n`);
        process.exit(1);
      });
    });
    process.stdout.write(cmd === "state" ? JSON.stringify(JSON.parse(line), null, 4) + "\n" : `{"identity_pubkey": "02standin", "synced_to_chain": true}\n`);
  },

  /** lightningd: needs an RPC user *and* password (flags or config files), logs in, serves lightning-rpc. */
  async lightningd(argv) {
    const dir = flag(argv, "--lightning-dir", "/root/.lightning");
    const network = flag(argv, "--network", "bitcoin");
    const files = [join(dir, "config"), join(dir, network, "config"), ...flags(argv, "--conf")];
    const opts = new Map();
    for (const f of files) if (existsSync(f)) for (const [k, v] of parseConf(mustRead(f, "config")).top) opts.set(k, v.at(-1));
    const opt = (k) => flag(argv, `--${k}`) ?? opts.get(k);
    const user = opt("bitcoin-rpcuser");
    const pass = opt("bitcoin-rpcpassword");
    if (!user || !pass) die(`bitcoin-rpcuser and bitcoin-rpcpassword are both needed (got user=${user ? "set" : "unset"}, password=${pass ? "set" : "unset"})`);
    mustWriteDir(join(dir, network));
    const info = await bitcoinRpcLogin({ host: opt("bitcoin-rpcconnect") ?? "127.0.0.1", port: opt("bitcoin-rpcport") ?? 8332, user, pass });
    if (CHAIN_NAMES[network] !== info.chain) die(`--network=${network} but bitcoind runs ${info.chain}`);
    const sock = join(dir, network, "lightning-rpc");
    rmSync(sock, { force: true });
    await new Promise((r) => createServer((s) => s.end('{"id":"02standin","network":"' + network + '"}\n')).listen(sock, r));
    log(`rpc socket ${sock}`);
    const bind = (opt("bind-addr") ?? "0.0.0.0:9735").split(":");
    await listen(bind[1], bind[0]);
    setInterval(() => {}, 1 << 30);
  },

  async "lightning-cli"(argv) {
    const dir = flag(argv, "--lightning-dir", "/root/.lightning");
    const network = flag(argv, "--network", "bitcoin");
    const sock = join(dir, network, "lightning-rpc");
    await new Promise((res) => {
      const s = connect(sock);
      s.on("data", (d) => process.stdout.write(d));
      s.on("end", res);
      s.on("error", (e) => {
        process.stderr.write(`lightning-cli: Connecting to '${sock}': ${e.message}\n`);
        process.exit(2);
      });
    });
  },

  /**
   * A contract-driven service (contract.service), in the order a real program
   * trips over things: arguments, required env, readable files, writable dirs,
   * its bitcoind credential (and the chain it expects), TCP dependencies, then
   * its listening ports (HTTP, answering 200 on every path).
   */
  async service(argv) {
    const c = contract.service ?? {};
    for (const w of c.argvIncludes ?? []) if (!argv.includes(w)) die(`expected argument ${w} (got ${JSON.stringify(argv)})`);
    for (const alt of c.requireEnv ?? []) if (!alt.split("|").some((v) => process.env[v])) die(`one of ${alt.split("|").join(", ")} must be set`);
    for (const [v, ok] of Object.entries(c.envOneOf ?? {})) {
      const val = process.env[v] ?? "";
      if (!ok.includes(val)) die(`${v}=${val} is not supported (one of ${ok.join(", ")})`);
    }
    for (const f of c.reads ?? []) mustRead(expand(f), "file");
    const writes = [...(c.writes ?? []).map(expand), ...(c.writeArgs ?? []).flatMap((f) => flags(argv, f))];
    for (const d of writes) mustWriteDir(d);
    if (c.rpc) {
      let { user, pass, host, port } = c.rpc;
      if (c.rpc.url) {
        const u = new URL(expand(c.rpc.url));
        [user, pass, host, port] = [decodeURIComponent(u.username), decodeURIComponent(u.password), u.hostname, u.port || "8332"];
      } else if (c.rpc.hostPort) [host, port] = expand(c.rpc.hostPort).replace(/^https?:\/\//, "").replace(/\/$/, "").split(":");
      const info = await bitcoinRpcLogin({ host: expand(host), port: expand(port), user: expand(user), pass: expand(pass) });
      if (c.chain) {
        const want = CHAIN_NAMES[expand(c.chain)];
        if (want !== info.chain) die(`configured for chain ${expand(c.chain)} but bitcoind runs ${info.chain}`);
      }
    }
    for (const t of c.tcp ?? []) {
      const v = expand(t);
      const m = /(?:Host=|\/\/)?([A-Za-z0-9_.-]+)(?:;Port=|:)(\d+)/.exec(v);
      if (!m) die(`cannot find host:port in ${v}`);
      await waitTcp(m[1], m[2]);
    }
    const listens = [...(c.listen ?? []).map(expand), ...(c.listenFrom ? expand(`\${${c.listenFrom}}`).split(",") : []), ...(c.listenArgs ?? []).flatMap((f) => flags(argv, f))];
    for (const v of listens) {
      const m = /^(?:([a-z]+):\/\/)?(?:(.*):)?(\d+)$/.exec(v.trim());
      if (!m) die(`cannot listen on ${v}`);
      const host = !m[2] ? "0.0.0.0" : m[2].replace(/^\[|\]$/g, "");
      await new Promise((r, j) =>
        createHttpServer((req, res) => {
          res.writeHead(200, { "content-type": "text/plain" });
          res.end(`{"status":"OK","standin":"${contract.name}"}\n`);
        })
          .on("error", j)
          .listen(Number(m[3]), host, r),
      ).catch((e) => die(`listen ${host}:${m[3]}: ${e.message}`));
      log(`listening on ${host}:${m[3]}`);
    }
    log(`up as uid ${process.getuid()} gid ${process.getgid()}`);
    setInterval(() => {}, 1 << 30);
  },

  /** electrs 0.11: network and addresses from ELECTRS_* / flags; auth only from a config file's `auth` or a cookie file. */
  async electrs(argv) {
    const env = (k) => process.env[`ELECTRS_${k.toUpperCase()}`];
    const opt = (k) => flag(argv, `--${k.replace(/_/g, "-")}`) ?? env(k);
    const files = ["/etc/electrs/config.toml", join(process.env.HOME ?? "/", ".electrs/config.toml"), "electrs.toml", ...flags(argv, "--conf")];
    const toml = new Map();
    for (const f of files) if (existsSync(f)) for (const [k, v] of parseConf(mustRead(f, "config")).top) toml.set(k, v.at(-1).replace(/^"|"$/g, ""));
    const get = (k) => opt(k) ?? toml.get(k);
    const network = get("network") ?? "bitcoin";
    const auth = toml.get("auth");
    let user, pass;
    if (auth) [user, pass] = [auth.slice(0, auth.indexOf(":")), auth.slice(auth.indexOf(":") + 1)];
    else {
      const daemonDir = get("daemon_dir") ?? join(process.env.HOME ?? "/", ".bitcoin");
      const sub = { bitcoin: "", testnet: "testnet3", testnet4: "testnet4", signet: "signet", regtest: "regtest" }[network];
      const cookie = get("cookie_file") ?? join(daemonDir, sub ?? "", ".cookie");
      [user, pass] = mustRead(cookie, "cookie file (no `auth` in a config file)").trim().split(":");
    }
    mustWriteDir(get("db_dir") ?? "./db");
    const [host, port] = (get("daemon_rpc_addr") ?? "127.0.0.1:8332").split(":");
    const info = await bitcoinRpcLogin({ host, port, user, pass });
    if (CHAIN_NAMES[network] !== info.chain) die(`network ${network} but bitcoind runs ${info.chain}`);
    const [ph, pp] = (get("daemon_p2p_addr") ?? "127.0.0.1:8333").split(":");
    await waitTcp(ph, pp);
    const [eh, ep] = (get("electrum_rpc_addr") ?? "127.0.0.1:50001").split(":");
    await listen(ep, eh);
    const mon = get("monitoring_addr");
    if (mon) {
      const [mh, mp] = mon.split(":");
      await new Promise((r) =>
        createHttpServer((req, res) => {
          res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
          res.end(`# TYPE electrs_index_height gauge\nelectrs_index_height{type="tip"} ${info.blocks}\n`);
        }).listen(Number(mp), mh, r),
      );
      log(`metrics on ${mon}`);
    }
    setInterval(() => {}, 1 << 30);
  },

  /**
   * tor: torrc (-f) plus command-line options; DataDirectory and every
   * HiddenServiceDir must be writable (tor creates them 0700 and writes
   * `hostname` before bootstrapping); a HiddenServicePort target must be an IP
   * address or unix socket ("Unparseable address" otherwise); Socks/Control
   * ports listen where configured.
   */
  async tor(argv) {
    const opts = [];
    const file = flag(argv, "-f");
    if (file) for (const l of mustRead(file, "torrc").split("\n")) {
      const t = l.trim();
      if (t && !t.startsWith("#")) opts.push([t.split(/\s+/)[0], t.slice(t.split(/\s+/)[0].length).trim()]);
    }
    for (let i = 0; i < argv.length; i++) if (argv[i].startsWith("--")) opts.push([argv[i].slice(2), argv[++i] ?? ""]);
    const all = (k) => opts.filter(([o]) => o.toLowerCase() === k.toLowerCase()).map(([, v]) => v);
    const dataDir = all("DataDirectory").at(-1) ?? join(process.env.HOME ?? "/root", ".tor");
    mustWriteDir(dataDir);
    let hsDir;
    for (const [o, v] of opts) {
      if (o === "HiddenServiceDir") {
        hsDir = v;
        mkdirSync(v, { recursive: true, mode: 0o700 });
        const id = createHmac("sha256", "standin onion").update(v).digest();
        const b32 = [...id].map((b) => "abcdefghijklmnopqrstuvwxyz234567"[b & 31]).join("");
        writeFileSync(join(v, "hostname"), `${(b32 + b32).slice(0, 56)}.onion\n`, { mode: 0o600 });
      } else if (o === "HiddenServicePort") {
        if (!hsDir) die("HiddenServicePort without a HiddenServiceDir");
        const target = v.split(/\s+/)[1] ?? "";
        if (!/^(unix:|\d{1,3}(\.\d{1,3}){3}:\d+$|\[[0-9a-f:]+\]:\d+$)/.test(target)) die(`Unparseable address in hidden service port configuration: ${target}`);
      }
    }
    for (const k of ["SocksPort", "ControlPort"]) for (const v of all(k)) {
      const [h, p] = v.split(/\s+/)[0].includes(":") ? v.split(/\s+/)[0].split(":") : ["127.0.0.1", v.split(/\s+/)[0]];
      if (p !== "0") await listen(p, h);
    }
    log(`bootstrapped (stand-in), ${all("HiddenServiceDir").length} onion services`);
    setInterval(() => {}, 1 << 30);
  },

  /**
   * gosu/su-exec: run a command as user[:group] (names from /etc/passwd or
   * numbers). Like them it needs CAP_SETUID/CAP_SETGID; signals are passed on.
   */
  async gosu([who, ...cmd]) {
    const [u, g] = who.split(":");
    const passwd = readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":"));
    const group = readFileSync("/etc/group", "utf8").split("\n").map((l) => l.split(":"));
    const pw = passwd.find((p) => p[0] === u || p[2] === u);
    const uid = pw ? Number(pw[2]) : /^\d+$/.test(u) ? Number(u) : die(`unknown user ${u}`);
    const gr = g === undefined ? undefined : group.find((x) => x[0] === g || x[2] === g);
    const gid = g === undefined ? (pw ? Number(pw[3]) : uid) : gr ? Number(gr[2]) : /^\d+$/.test(g) ? Number(g) : die(`unknown group ${g}`);
    const { spawn } = await import("node:child_process");
    const child = spawn(cmd[0], cmd.slice(1), { stdio: "inherit", uid, gid });
    child.on("error", (e) => die(`${cmd[0]}: ${e.message}`, e.code === "EPERM" ? 1 : 127));
    for (const sig of ["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP"]) process.on(sig, () => child.kill(sig));
    child.on("exit", (code, sig) => process.exit(code ?? (sig ? 128 : 1)));
  },

  /** A health probe: exit 0 iff host:port accepts a connection. */
  async "probe-tcp"([host, port, ...rest]) {
    // electrumx_rpc -p PORT / redis-cli -p PORT style overrides
    const p = flag(rest, "-p", port);
    const ok = await tcpProbe(host, p);
    if (!ok) process.stderr.write(`connection to ${host}:${p} refused\n`);
    else if (contract.probeSays) process.stdout.write(`${contract.probeSays}\n`);
    process.exit(ok ? 0 : 1);
  },

  /** A health probe: exit 0 iff GET url answers 2xx. */
  async "probe-http"([url]) {
    try {
      const r = await httpJson(expand(url));
      process.exit(r.status >= 200 && r.status < 300 ? 0 : 1);
    } catch (e) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
  },

  /** `dotnet X.dll`: the assembly must exist in the working directory, then the service runs. */
  async dotnet([dll]) {
    if (!dll || !existsSync(dll)) die(`Could not execute because the application was not found: ${dll}`);
    return roles.service([]);
  },
};

const fn = roles[role];
if (!fn) die(`unknown role ${role}`, 127);
await fn(args);
