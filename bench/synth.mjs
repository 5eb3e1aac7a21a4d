#!/usr/bin/env node
// Deterministic synthetic catalog for benchmarks: `node bench/synth.mjs <apps> <dir>`
// or `import { writeCatalog } from "./synth.mjs"`.
//
// Same input → byte-identical files (seeded PRNG, no clock). Shape:
// - app 0 is the bitcoin provider (role bitcoin, default, bitcoin.conf, healthcheck);
// - every app has 1–3 containers with ports, volumes, environment; most have a
//   healthcheck; multi-container apps wire depends_on between their containers;
// - dependencies point at earlier apps only (no cycles); "healthy" ones only at
//   apps that have a healthcheck;
// - every ~5th app consumes Bitcoin RPC (bitcoin_rpc + nginx.conf / electrumx.env /
//   lnd.conf) and depends on role "bitcoin";
// - every ~25th app has a `build` container with a tiny context dir.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RPC_CALLS = ["getblock", "getblockhash", "getblockchaininfo", "getnetworkinfo", "getrawtransaction", "estimatesmartfee", "sendrawtransaction", "getmempoolinfo"];
const CAPS = ["CHOWN", "SETUID", "SETGID", "DAC_OVERRIDE", "FOWNER", "NET_BIND_SERVICE"];
const KEYS = ["web", "db", "worker"];

const q = (s) => JSON.stringify(s); // JSON strings are valid YAML 1.2 double-quoted scalars
const pad = (i) => String(i).padStart(4, "0");

/** Returns { files: Map<relative path, content> } for a catalog of n apps. */
export function synthCatalog(n, seed = 42) {
  const r = rng(seed);
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const files = new Map();
  const healthy = []; // app ids with at least one healthcheck
  const ids = [];
  let port = 20000;

  for (let i = 0; i < n; i++) {
    const provider = i === 0;
    const id = provider ? "bitcoin-node" : `app-${pad(i)}`;
    const consumer = !provider && i % 5 === 1;
    const build = !provider && i % 25 === 3;
    const kind = !provider && i % 4 === 2 ? "ui" : "service";
    const nContainers = provider ? 1 : 1 + Math.floor(r() * 3);
    const lines = [
      `id: ${id}`,
      `name: ${q(provider ? "Bitcoin Node" : `Synthetic App ${i}`)}`,
      `version: "${1 + (i % 3)}.${i % 10}.${i % 7}"`,
      `kind: ${kind}`,
      `description: ${q(`Synthetic app number ${i} for benchmarks.`)}`,
    ];
    if (provider) lines.push("provides: { role: bitcoin, default: true }");
    if (consumer) {
      const wl = [...new Set([pick(RPC_CALLS), pick(RPC_CALLS), pick(RPC_CALLS)])];
      lines.push(`bitcoin_rpc: { whitelist: [${wl.join(", ")}] }`);
    }

    // Dependencies: up to 3 earlier apps, plus the bitcoin role for consumers.
    const deps = new Map();
    if (consumer) deps.set("bitcoin", "healthy");
    if (!provider && ids.length > 1) {
      const nDeps = Math.floor(r() * 4);
      for (let d = 0; d < nDeps; d++) {
        const target = ids[1 + Math.floor(r() * (ids.length - 1))];
        if (deps.has(target)) continue;
        deps.set(target, healthy.includes(target) && r() < 0.4 ? "healthy" : "started");
      }
    }
    if (deps.size > 0) {
      lines.push("dependencies:");
      for (const [t, cond] of deps) lines.push(`  ${t}: { condition: ${cond}${cond === "started" && r() < 0.2 ? ", optional: true" : ""} }`);
    }

    lines.push("containers:");
    let hasHealth = false;
    const keys = nContainers === 1 ? [id] : KEYS.slice(0, nContainers);
    keys.forEach((key, k) => {
      lines.push(`  ${key}:`);
      if (build && k === 0) lines.push(`    build: { context: build/${id} }`);
      else lines.push(`    image: docker.io/archy/${provider ? "bitcoind" : `svc${i % 17}`}:${1 + (i % 5)}.${k}`);
      if (provider) lines.push(`    command: ["bitcoind", "-conf=/etc/bitcoin/bitcoin.conf", "-datadir=/data", "-printtoconsole"]`);
      else if (r() < 0.5) lines.push(`    command: ["serve", "--port", "${8000 + k}", "--name", ${q(`${id}-${key}`)}]`);
      const env = 1 + Math.floor(r() * 4);
      lines.push("    environment:");
      for (let e = 0; e < env; e++) lines.push(`      VAR_${e}: ${q(`value-${i}-${k}-${e}${e === 2 ? " %h $HOME" : ""}`)}`);
      lines.push("    volumes:");
      lines.push(`      - { source: ${key}-data, target: /data }`);
      if (r() < 0.5) lines.push(`      - { source: ${key}-cache, target: /cache, read_only: ${r() < 0.5} }`);
      lines.push("    ports:");
      lines.push(`      - { host: ${port++}, container: ${8000 + k} }`);
      if (r() < 0.3) lines.push(`      - { host: ${port++}, container: ${9000 + k}, protocol: udp }`);
      const configs = [];
      if (provider) configs.push("{ kind: bitcoin.conf, mount: /etc/bitcoin/bitcoin.conf }");
      else if (consumer && k === 0) configs.push(pick(["{ kind: nginx.conf, mount: /etc/nginx/conf.d/default.conf }", "{ kind: electrumx.env }", "{ kind: lnd.conf, mount: /root/.lnd/lnd.conf }"]));
      if (configs.length > 0) lines.push("    configs:", ...configs.map((c) => `      - ${c}`));
      if (provider || r() < 0.7) {
        hasHealth = true;
        lines.push("    healthcheck:");
        lines.push(r() < 0.5 ? `      cmd: ${q(`wget -qO- http://127.0.0.1:${8000 + k}/health >/dev/null`)}` : `      cmd: ["curl", "-fsS", "http://127.0.0.1:${8000 + k}/health"]`);
        lines.push(`      interval: ${10 + (i % 5) * 10}s`);
        if (r() < 0.5) lines.push("      start_period: 1m");
      }
      if (k > 0) lines.push(`    depends_on:`, `      ${keys[0]}: { condition: started }`);
      if (r() < 0.3) lines.push(`    stop_timeout: ${30 + (i % 4) * 30}`);
      if (r() < 0.4) lines.push(`    capabilities: [${[...new Set([pick(CAPS), pick(CAPS)])].join(", ")}]`);
      if (r() < 0.2) lines.push(`    memory: ${256 * (1 + (i % 4))}m`);
    });
    files.set(`${id}.yaml`, `${lines.join("\n")}\n`);
    if (build) {
      files.set(`build/${id}/Containerfile`, `FROM docker.io/library/nginx:1.27\nCOPY index.html /usr/share/nginx/html/index.html\n`);
      files.set(`build/${id}/index.html`, `<!doctype html><title>${id}</title><h1>${id}</h1>\n`);
    }
    ids.push(id);
    if (hasHealth) healthy.push(id);
  }
  return { files };
}

/** Write the catalog into dir (emptied first). Returns dir. */
export function writeCatalog(n, dir, seed = 42) {
  rmSync(dir, { recursive: true, force: true });
  for (const [rel, text] of synthCatalog(n, seed).files) {
    const abs = join(dir, rel);
    mkdirSync(join(abs, ".."), { recursive: true });
    writeFileSync(abs, text);
  }
  return dir;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [n, dir] = process.argv.slice(2);
  if (!n || !dir || !/^\d+$/.test(n)) {
    console.error("usage: node bench/synth.mjs <apps> <dir>");
    process.exit(2);
  }
  writeCatalog(Number(n), dir);
  console.log(`${dir}: ${n} apps`);
}
