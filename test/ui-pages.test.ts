// The UI companions' page scripts (manifests/build/*-ui/app.js) against canned
// answers of bitcoind, lnd and electrs: every value lands in its element, and a
// failing backend shows an explicit error state. A minimal DOM stands in for the
// browser here; the e2e suite loads the real pages in a real browser.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "./helpers/quadlet.js";

interface El {
  id: string;
  textContent: string;
  hidden: boolean;
  value: number;
}

type Answer = { status: number; body: unknown } | { status: number; text: string };
type Backend = (url: string, init?: { method?: string; body?: string }) => Answer;

/** Run a page's app.js once (first refresh) with `backend` answering its fetches. */
async function render(ui: string, backend: Backend): Promise<{ el: (id: string) => El; state: string; calls: string[]; again: () => Promise<string> }> {
  const html = readFileSync(join(REPO, "manifests/build", ui, "index.html"), "utf8");
  const els = new Map<string, El>();
  for (const m of html.matchAll(/id="([^"]+)"/g)) els.set(m[1]!, { id: m[1]!, textContent: "…", hidden: /hidden/.test(m[0]), value: 0 });
  const body = { dataset: { state: "loading" } };
  const document = {
    body,
    getElementById: (id: string) => {
      const e = els.get(id);
      if (!e) throw new Error(`app.js asked for #${id}, which index.html does not have`);
      return e;
    },
  };
  const calls: string[] = [];
  const fetch = async (url: string, init?: { method?: string; body?: string }) => {
    const method = init?.body ? (JSON.parse(init.body) as { method: string }).method : "";
    calls.push(`${init?.method ?? "GET"} ${url}${method ? ` ${method}` : ""}`);
    const a = backend(url, init);
    const text = "text" in a ? a.text : JSON.stringify(a.body);
    return {
      ok: a.status >= 200 && a.status < 300,
      status: a.status,
      statusText: String(a.status),
      json: async () => JSON.parse(text) as unknown,
      text: async () => text,
    };
  };
  let first: Promise<void> | undefined;
  const src = readFileSync(join(REPO, "manifests/build", ui, "app.js"), "utf8").replace(/^refresh\(\);$/m, "__first(refresh());");
  const run = new Function("document", "fetch", "setInterval", "location", "__first", src);
  let tick: (() => Promise<void>) | undefined;
  run(document, fetch, (fn: () => Promise<void>) => ((tick = fn), 0), { hostname: "node.local" }, (p: Promise<void>) => (first = p));
  await first;
  // The page's next periodic refresh, on the same DOM; resolves to the new state.
  const again = async () => (await tick!(), body.dataset.state);
  return { el: (id) => document.getElementById(id), state: body.dataset.state, calls, again };
}

const BLOCKCHAIN = { chain: "regtest", blocks: 101, headers: 120, verificationprogress: 0.84215, initialblockdownload: true };
const NETWORK_KNOTS = { version: 290200, subversion: "/Satoshi:29.2.0/Knots:20251110/", connections: 8, connections_in: 2, connections_out: 6 };
const NETWORK_CORE = { ...NETWORK_KNOTS, subversion: "/Satoshi:29.2.0/" };

function bitcoind(network: unknown): Backend {
  return (url, init) => {
    if (url !== "/bitcoin-rpc/" || init?.method !== "POST") return { status: 404, text: "not found" };
    const { method, id } = JSON.parse(init.body!) as { method: string; id: string };
    const result = { getblockchaininfo: BLOCKCHAIN, getnetworkinfo: network, getmempoolinfo: { size: 42 } }[method];
    return result ? { status: 200, body: { result, error: null, id } } : { status: 403, text: "" };
  };
}

describe("bitcoin-ui", () => {
  it("shows chain, blocks/headers, sync progress, peers and Knots from subversion", async () => {
    const p = await render("bitcoin-ui", bitcoind(NETWORK_KNOTS));
    expect(p.state).toBe("ok");
    expect(p.el("chain").textContent).toBe("regtest");
    expect(p.el("blocks").textContent).toBe("101");
    expect(p.el("headers").textContent).toBe("120");
    expect(p.el("progress").textContent).toBe("84.21 %");
    expect(p.el("peers").textContent).toBe("8 (2 in, 6 out)");
    expect(p.el("impl").textContent).toBe("Bitcoin Knots");
    expect(p.el("version").textContent).toBe("/Satoshi:29.2.0/Knots:20251110/");
    expect(p.el("mempool").textContent).toBe("42 transactions");
    expect(p.el("status").textContent).toBe("Syncing");
    expect(p.el("error").hidden).toBe(true);
    expect(p.calls).toContain("POST /bitcoin-rpc/ getblockchaininfo");
  });

  it("says Bitcoin Core for a plain Satoshi user agent", async () => {
    expect((await render("bitcoin-ui", bitcoind(NETWORK_CORE))).el("impl").textContent).toBe("Bitcoin Core");
  });

  it.each([
    ["bitcoind refuses the credentials (401, empty body)", { status: 401, text: "" }, /HTTP 401/],
    ["nginx cannot reach bitcoind (502 page)", { status: 502, text: "<html>Bad Gateway</html>" }, /HTTP 502/],
    ["an RPC error", { status: 500, body: { result: null, error: { code: -28, message: "Loading block index…" } } }, /Loading block index/],
  ] as const)("%s: an explicit error state", async (_, answer, message) => {
    const p = await render("bitcoin-ui", () => answer);
    expect(p.state).toBe("error");
    expect(p.el("status").textContent).toBe("Error");
    expect(p.el("error").hidden).toBe(false);
    expect(p.el("error").textContent).toMatch(message);
  });
});

describe("lnd-ui", () => {
  const withLnd = (state: Answer): Backend => (url, init) => (url === "/lnd/v1/state" ? state : bitcoind(NETWORK_CORE)(url, init));

  it.each([
    ["SERVER_ACTIVE", "yes"],
    ["RPC_ACTIVE", "yes"],
    ["LOCKED", "no"],
    ["NON_EXISTING", "no"],
  ])("%s: lnd state, readiness and the backing chain", async (state, ready) => {
    const p = await render("lnd-ui", withLnd({ status: 200, body: { state } }));
    expect(p.state).toBe("ok");
    expect(p.el("lnd-state").textContent).toBe(state);
    expect(p.el("lnd-ready").textContent).toBe(ready);
    expect(p.el("blocks").textContent).toBe("101");
    expect(p.el("impl").textContent).toBe("Bitcoin Core");
  });

  it("lnd unreachable: error state, bitcoind values still shown", async () => {
    const p = await render("lnd-ui", withLnd({ status: 502, text: "Bad Gateway" }));
    expect(p.state).toBe("error");
    expect(p.el("lnd-state").textContent).toBe("unreachable");
    expect(p.el("lnd-error").hidden).toBe(false);
    expect(p.el("chain").textContent).toBe("regtest");
  });
});

describe("electrs-ui", () => {
  const METRICS = `# HELP electrs_index_height Indexed block height\n# TYPE electrs_index_height gauge\nelectrs_index_height{type="tip"} 95\n`;
  const withElectrs = (m: Answer): Backend => (url, init) => (url === "/electrs/metrics" ? m : bitcoind(NETWORK_KNOTS)(url, init));

  it("index height from electrs' metrics against the node's tip", async () => {
    const p = await render("electrs-ui", withElectrs({ status: 200, text: METRICS }));
    expect(p.state).toBe("ok");
    expect(p.el("index-height").textContent).toBe("95");
    expect(p.el("blocks").textContent).toBe("101");
    expect(p.el("index-progress").textContent).toBe("94.05 %");
    expect(p.el("index-state").textContent).toBe("indexing");
    expect(p.el("connect").textContent).toBe("node.local:50001:t");
  });

  it("metrics unreachable: error state", async () => {
    const p = await render("electrs-ui", withElectrs({ status: 502, text: "" }));
    expect(p.state).toBe("error");
    expect(p.el("index-height").textContent).toBe("unknown");
    expect(p.el("electrs-error").hidden).toBe(false);
  });
});

describe("recovery", () => {
  it.each(["bitcoin-ui", "lnd-ui", "electrs-ui"])("%s: the next refresh after a failure clears the error state", async (ui) => {
    let fail = true;
    const ok: Backend = (url, init) =>
      url === "/lnd/v1/state"
        ? { status: 200, body: { state: "RPC_ACTIVE" } }
        : url === "/electrs/metrics"
          ? { status: 200, text: 'electrs_index_height{type="tip"} 101\n' }
          : bitcoind(NETWORK_KNOTS)(url, init);
    const p = await render(ui, (url, init) => (fail ? { status: 502, text: "" } : ok(url, init)));
    expect(p.state).toBe("error");
    expect(p.el("error").textContent).not.toBe("");
    fail = false;
    expect(await p.again()).toBe("ok");
    expect(p.el("error").textContent).toBe("");
    expect(p.el("error").hidden).toBe(true);
    expect(p.el("status").textContent).not.toBe("Error");
  });
});
