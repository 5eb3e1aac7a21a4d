// LND's state from its REST API (GET /v1/state needs no macaroon; nginx proxies it
// at /lnd/v1/state) and the backing node's chain from /bitcoin-rpc/.
"use strict";

async function rpc(method) {
  const res = await fetch("/bitcoin-rpc/", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "1.0", id: "lnd-ui", method, params: [] }),
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

// lnrpc/stateservice.proto WalletState.
const WALLET = {
  NON_EXISTING: "not created yet",
  LOCKED: "locked",
  UNLOCKED: "unlocked, starting",
  RPC_ACTIVE: "unlocked, RPC ready",
  SERVER_ACTIVE: "unlocked, fully started",
  WAITING_TO_START: "waiting to start",
};
const CHAINS = { main: "mainnet", test: "testnet3", testnet4: "testnet4", signet: "signet", regtest: "regtest" };

async function lndState() {
  const res = await fetch("/lnd/v1/state");
  if (!res.ok) throw new Error(`lnd state: HTTP ${res.status}`);
  const body = await res.json();
  if (!body.state) throw new Error(`lnd state: ${body.message || "no state in the answer"}`);
  return body.state;
}

async function refresh() {
  let failed = false;
  try {
    const state = await lndState();
    set("lnd-state", state);
    set("wallet", WALLET[state] || state);
    set("lnd-ready", state === "RPC_ACTIVE" || state === "SERVER_ACTIVE" ? "yes" : "no");
    showError("lnd-error", "");
  } catch (e) {
    failed = true;
    set("lnd-state", "unreachable");
    set("lnd-ready", "no");
    showError("lnd-error", `Cannot reach LND: ${e.message}`);
  }
  try {
    const [chain, net] = await Promise.all([rpc("getblockchaininfo"), rpc("getnetworkinfo")]);
    set("chain", CHAINS[chain.chain] || chain.chain);
    set("blocks", String(chain.blocks));
    set("headers", String(chain.headers));
    set("progress", `${(Math.floor((Number(chain.verificationprogress) || 0) * 10000) / 100).toFixed(2)} %`);
    set("peers", String(net.connections));
    set("impl", /knots/i.test(net.subversion || "") ? "Bitcoin Knots" : "Bitcoin Core");
    showError("error", "");
  } catch (e) {
    failed = true;
    showError("error", `Cannot reach the node's RPC: ${e.message}`);
  }
  set("status", failed ? "Error" : "OK");
  document.body.dataset.state = failed ? "error" : "ok";
  set("updated", new Date().toLocaleTimeString());
}

refresh();
setInterval(refresh, 10000);
