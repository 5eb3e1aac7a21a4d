// Node status from bitcoind's JSON-RPC, through nginx's /bitcoin-rpc/ (nginx adds
// this UI's credentials; bitcoind's rpcwhitelist allows it read-only calls only).
"use strict";

async function rpc(method) {
  const res = await fetch("/bitcoin-rpc/", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "1.0", id: "bitcoin-ui", method, params: [] }),
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

/** "Bitcoin Knots" when the user agent carries a Knots component, else "Bitcoin Core". */
function implementation(subversion) {
  if (/knots/i.test(subversion)) return "Bitcoin Knots";
  if (/^\/Satoshi:/.test(subversion)) return "Bitcoin Core";
  return "unknown";
}

const CHAINS = { main: "mainnet", test: "testnet3", testnet4: "testnet4", signet: "signet", regtest: "regtest" };

async function refresh() {
  try {
    const [chain, net] = await Promise.all([rpc("getblockchaininfo"), rpc("getnetworkinfo")]);
    set("chain", CHAINS[chain.chain] || chain.chain);
    set("blocks", String(chain.blocks));
    set("headers", String(chain.headers));
    const p = Number(chain.verificationprogress) || 0;
    set("progress", `${(Math.floor(p * 10000) / 100).toFixed(2)} %`);
    document.getElementById("progress-bar").value = p;
    set("ibd", chain.initialblockdownload ? "yes" : "no");
    const inbound = net.connections_in ?? "?";
    const outbound = net.connections_out ?? "?";
    set("peers", `${net.connections} (${inbound} in, ${outbound} out)`);
    set("impl", implementation(net.subversion || ""));
    set("version", net.subversion || String(net.version));
    try {
      const mp = await rpc("getmempoolinfo");
      set("mempool", `${mp.size} transactions`);
    } catch {
      set("mempool", "unavailable");
    }
    set("error", "");
    document.getElementById("error").hidden = true;
    set("status", chain.initialblockdownload ? "Syncing" : "Synced");
    document.body.dataset.state = "ok";
  } catch (e) {
    set("error", `Cannot reach the node's RPC: ${e.message}`);
    document.getElementById("error").hidden = false;
    set("status", "Error");
    document.body.dataset.state = "error";
  }
  set("updated", new Date().toLocaleTimeString());
}

refresh();
setInterval(refresh, 10000);
