import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { cli } from "../helpers/cli.js";
import { CATALOG, REPO, golden } from "./helpers.js";

const run = (argv: string[]) => cli(argv, { cwd: CATALOG });

describe("graph", () => {
  it("mermaid (default) for the whole catalog", async () => {
    const r = await run(["graph"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    golden("graph-catalog.mmd", r.stdout);
    // Apps are subgraphs; role dependencies resolve to the default provider; optional is dashed.
    expect(r.stdout).toContain('  subgraph app_btc["btc (role bitcoin)"]');
    expect(r.stdout).toContain("  app_indexer -->|healthy, via bitcoin| app_btc");
    expect(r.stdout).toContain("  app_wallet -.->|started, optional, only wallet| app_indexer");
    expect(r.stdout).toContain("  c_wallet -->|healthy| c_wallet_db");
    expect(r.stdout).toContain("    c_archy_dashboard -->|image| b_archy_dashboard_build");
  });

  it("mermaid and dot for a selection", async () => {
    const m = await run(["graph", "--select", "selection.yaml"]);
    expect(m.code).toBe(0);
    golden("graph-selection.mmd", m.stdout);
    expect(m.stdout).not.toContain("btc-alt");
    const d = await run(["graph", "--select", "selection.yaml", "--format", "dot"]);
    expect(d.code).toBe(0);
    golden("graph-selection.dot", d.stdout);
    expect(d.stdout).toContain('"wallet" -> "indexer" [label="started, optional, only wallet", ltail="cluster_wallet", lhead="cluster_indexer", style=dashed];');
  });

  it("is deterministic: the same bytes every run", async () => {
    const a = await run(["graph", "--format", "dot"]);
    const b = await run(["graph", "--format", "dot"]);
    expect(a.stdout).toBe(b.stdout);
  });

  it("an unknown format is invalid input", async () => {
    const r = await run(["graph", "--format", "svg"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Allowed choices are mermaid, dot/);
  });

  it("invalid manifests: diagnostics, exit 2", async () => {
    const r = await cli(["graph", "--manifests", join(REPO, "test/cli/fixtures/does-not-exist")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read manifests directory/);
  });

  it("the catalog in manifests/ graphs (smoke test)", async () => {
    for (const format of ["mermaid", "dot"]) {
      const r = await cli(["graph", "--manifests", join(REPO, "manifests"), "--format", format]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(format === "dot" ? "cluster_bitcoin-knots" : "app_bitcoin_knots");
    }
  });
});
