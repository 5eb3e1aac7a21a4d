// electrs' index height from its Prometheus metrics (nginx proxies them at
// /electrs/metrics) against the node's tip from /bitcoin-rpc/.
"use strict";

async function rpc(method) {
  const res = await fetch("/bitcoin-rpc/", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "1.0", id: "electrs-ui", method, params: [] }),
  });
  let body;
  try {
    body = await res.json();
  } catch {
    throw new Error(`${method}: HTTP ${res.status} ${res.statusText}`);
  }
  if (body.error) throw new Error(`${method}: ${body.error.message || JSON.stringify(body.error)}`);
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status}`);
  return body.result;
}

const set = (id, text) => {
  document.getElementById(id).textContent = text;
};
const showError = (id, text) => {
  const el = document.getElementById(id);
  el.textContent = text;
  el.hidden = !text;
};
const CHAINS = { main: "mainnet", test: "testnet3", testnet4: "testnet4", signet: "signet", regtest: "regtest" };

/** The indexed height from Prometheus text: electrs_index_height{type="tip"} N (any labels). */
function indexHeight(text) {
  let best;
  for (const line of text.split("\n")) {
    const m = /^(electrs_)?index_height(\{[^}]*\})?\s+([0-9.eE+]+)\s*$/.exec(line.trim());
    if (m && (m[2] === undefined || /tip/.test(m[2]) || best === undefined)) best = Number(m[3]);
  }
  return best;
}

async function refresh() {
  let failed = false;
  let height;
  try {
    const res = await fetch("/electrs/metrics");
    if (!res.ok) throw new Error(`metrics: HTTP ${res.status}`);
    height = indexHeight(await res.text());
    if (height === undefined) throw new Error("metrics: no index_height");
    set("index-height", String(height));
    showError("electrs-error", "");
  } catch (e) {
    failed = true;
    set("index-height", "unknown");
    showError("electrs-error", `Cannot read electrs' index: ${e.message}`);
  }
  try {
    const chain = await rpc("getblockchaininfo");
    set("chain", CHAINS[chain.chain] || chain.chain);
    set("blocks", String(chain.blocks));
    set("headers", String(chain.headers));
    set("progress", `${(Math.floor((Number(chain.verificationprogress) || 0) * 10000) / 100).toFixed(2)} %`);
    if (height !== undefined) {
      const p = chain.blocks > 0 ? Math.min(1, height / chain.blocks) : 1;
      set("index-progress", `${(Math.floor(p * 10000) / 100).toFixed(2)} %`);
      document.getElementById("index-bar").value = p;
      set("index-state", height >= chain.blocks ? "in sync" : "indexing");
    } else {
      set("index-progress", "unknown");
      set("index-state", "unknown");
    }
    showError("error", "");
  } catch (e) {
    failed = true;
    showError("error", `Cannot reach the node's RPC: ${e.message}`);
  }
  set("connect", `${location.hostname}:50001:t`);
  set("status", failed ? "Error" : "OK");
  document.body.dataset.state = failed ? "error" : "ok";
  set("updated", new Date().toLocaleTimeString());
}

refresh();
setInterval(refresh, 10000);
