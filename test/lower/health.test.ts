// Static guard for health checks: for every catalog container, what podman 5.4
// will store as its health test (a model of podman's rule, test/helpers/podman-health.ts)
// must equal what the manifest means: exec form ["CMD", ...list] or shell form
// ["CMD-SHELL", string]. The argument podman receives is read from the real
// quadlet's ExecStart, not from our own unit text.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { healthCmdValue, intendedHealthTest } from "../../src/lower/health.js";
import { cleanup, cli, tempDir, UNIT_DIR } from "../helpers/cli.js";
import { podmanStoredHealthTest } from "../helpers/podman-health.js";
import { dryrun, execStartArgv, REPO } from "../helpers/quadlet.js";

// Measured on Debian trixie's podman 5.4.2 (see src/lower/health.ts).
const MEASURED: [string, string[]][] = [
  ['["CMD","/bin/true"]', ['["CMD","/bin/true"]']],
  ['["/bin/true"]', ["CMD-SHELL", "/bin/true"]],
  ["CMD /bin/true", ["CMD", "/bin/true"]],
  ['["/bin/sh","-c","exit 0"]', ["CMD", "/bin/sh", "-c", "exit 0"]],
  ['["CMD-SHELL","true"]', ["CMD-SHELL", "true"]],
  ["/bin/true", ["CMD-SHELL", "/bin/true"]],
  ['["ls","/a b"]', ["CMD", "ls", "/a b"]],
  ["CMD ls /", ["CMD", "ls", "/"]],
];

describe("podman's health-cmd rule (model)", () => {
  it.each(MEASURED)("%s is stored as measured", (text, stored) => {
    expect(podmanStoredHealthTest(text)).toEqual(stored);
  });

  it("the old lowering (CMD word inside a JSON array) is mis-stored", () => {
    const old = JSON.stringify(["CMD", "lncli", "--lnddir=/data", "state"]);
    expect(podmanStoredHealthTest(old)).not.toEqual(["CMD", "lncli", "--lnddir=/data", "state"]);
  });

  it.each<[string | string[]]>([[["lncli", "state"]], [["/healthcheck.sh"]], ["wget -q -O- http://x/ || exit 1"], [["a b", "c"]]])(
    "lowering %j is stored as intended",
    (cmd) => {
      expect(podmanStoredHealthTest(healthCmdValue(cmd))).toEqual(intendedHealthTest(cmd));
    },
  );
});

describe("every catalog health check reaches podman as intended", () => {
  const out = tempDir();
  afterAll(() => cleanup(out));

  it("exec form stays exec form, shell form stays shell form", async () => {
    const r = await cli(["generate", "--manifests", "manifests", "--out", out], { cwd: REPO });
    expect(r.code).toBe(0);
    const dry = dryrun(join(out, UNIT_DIR));
    const stored = new Map<string, string>(); // container name → --health-cmd text podman receives
    for (const text of dry.services.values()) {
      const argv = execStartArgv(text);
      const i = argv.indexOf("--health-cmd");
      if (i >= 0) stored.set(argv[argv.indexOf("--name") + 1]!, argv[i + 1]!);
    }
    let checked = 0;
    for (const f of readdirSync(join(REPO, "manifests")).filter((x) => x.endsWith(".yaml"))) {
      const app = parse(readFileSync(join(REPO, "manifests", f), "utf8")) as { id: string; containers: Record<string, { healthcheck?: { cmd: string | string[] } }> };
      for (const [key, c] of Object.entries(app.containers)) {
        if (!c.healthcheck) continue;
        const name = [key, `${app.id}-${key}`, `archy-${key}`, `archy-${app.id}-${key}`].find((n) => stored.has(n));
        expect(name, `${f}: no --health-cmd for containers.${key}`).toBeDefined();
        expect(podmanStoredHealthTest(stored.get(name!)!), `${f} containers.${key}`).toEqual(intendedHealthTest(c.healthcheck.cmd));
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(18);
  });
});
