// Hand-written drop-ins next to generated units are listed (status, explain),
// and explain marks each overridden value with its origin (docs/settings.md).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dropInDirs, findDropIns } from "../../src/settings/dropins.js";
import { cli, tempDir } from "../helpers/cli.js";
import { REPO } from "../helpers/quadlet.js";

describe("drop-ins", () => {
  it("covers quadlet's and systemd's drop-in directories, prefix and type-wide ones", () => {
    const dirs = dropInDirs("bitcoin-knots");
    for (const d of [
      "etc/containers/systemd/bitcoin-knots.container.d",
      "etc/containers/systemd/archy/bitcoin-knots.container.d",
      "etc/containers/systemd/bitcoin-.container.d",
      "etc/containers/systemd/container.d",
      "etc/systemd/system/bitcoin-knots.service.d",
      "etc/systemd/system/bitcoin-.service.d",
      "run/systemd/system/service.d",
    ]) expect(dirs).toContain(d);
  });

  it("finds *.conf files that apply to each container, nothing else", () => {
    const root = tempDir("archy-dropins-");
    const put = (p: string) => {
      mkdirSync(join(root, p, ".."), { recursive: true });
      writeFileSync(join(root, p), "[Container]\nMemory=16g\n");
    };
    put("etc/containers/systemd/bitcoin-knots.container.d/10-mem.conf");
    put("etc/systemd/system/lnd.service.d/override.conf");
    put("etc/containers/systemd/bitcoin-knots.container.d/notes.txt");
    put("etc/systemd/system/electrumx.service.d/x.conf");
    const found = findDropIns(root, ["bitcoin-knots", "lnd", "mempool"]);
    expect([...found]).toEqual([
      ["bitcoin-knots", ["/etc/containers/systemd/bitcoin-knots.container.d/10-mem.conf"]],
      ["lnd", ["/etc/systemd/system/lnd.service.d/override.conf"]],
    ]);
  });
});

describe("explain marks overridden values", () => {
  it("memory and environment from the selection's overrides, with file:line:col", async () => {
    const r = await cli(["explain", "bitcoin-knots", "--manifests", "manifests", "--select", "test/settings/fixtures/node.yaml", "--json"], { cwd: REPO });
    expect(r.code).toBe(0);
    const c = (JSON.parse(r.stdout) as { containers: { overrides: unknown[]; dropIns: string[] }[] }).containers[0]!;
    expect(c.overrides).toEqual([
      { field: "memory", value: "8g", from: "test/settings/fixtures/node.yaml:12:30" },
      { field: "stop_timeout", value: "900", from: "test/settings/fixtures/node.yaml:12:48" },
    ]);
    const text = await cli(["explain", "bitcoin-knots", "--manifests", "manifests", "--select", "test/settings/fixtures/node.yaml"], { cwd: REPO });
    expect(text.stdout).toContain("    memory 8g (override, test/settings/fixtures/node.yaml:12:30)\n");
  });
});
