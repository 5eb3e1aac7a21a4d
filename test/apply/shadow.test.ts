// A generated service must never replace one the system already ships.
import { afterEach, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, runCli, workspace } from "./helpers.js";

afterEach(cleanup);

describe("apply refuses to shadow system units", () => {
  it("a distro unit with a generated service's name → exit 2, nothing written", async () => {
    const ws = workspace();
    mkdirSync(join(ws.root, "usr/lib/systemd/system"), { recursive: true });
    writeFileSync(join(ws.root, "usr/lib/systemd/system/web.service"), "[Service]\nExecStart=/bin/true\n");
    const r = await runCli(["apply", "--root", ws.root, "--manifests", ws.manifests, "--secrets", ws.secrets], { log: ws.log });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("refusing to shadow the system's own units: web.service (/usr/lib/systemd/system/web.service)");
    expect(existsSync(join(ws.root, "var/lib/archy-quadlet"))).toBe(false);
  });
});
