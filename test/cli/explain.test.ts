// explain with the real Podman 5.4 quadlet: never skipped (a missing binary fails,
// in CI and locally — see test/helpers/quadlet.ts).
import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "../helpers/cli.js";
import { dryrun, execStartArgv as oracleArgv, quadletBin } from "../helpers/quadlet.js";
import { formatArgv, shellQuote } from "../../src/cli/explain.js";
import { canonicalArgv, execArgv } from "../../src/unit/exec.js";
import { readDryRun } from "../../src/unit/quadlet.js";
import { compile } from "../../src/plan/inputs.js";
import { ReviewSecrets } from "../../src/configs/secrets.js";
import { applyChanges } from "../../src/apply/write.js";
import { compareTree } from "../../src/plan/tree.js";
import { CATALOG, REPO, golden } from "./helpers.js";

const run = (argv: string[]) => cli(argv, { cwd: CATALOG });
const bin = () => quadletBin();
const norm = (s: string) => s.split(bin()).join("<quadlet>");

describe("explain (real quadlet)", () => {
  for (const app of ["wallet", "dashboard", "btc", "indexer"]) {
    it(`${app}: text and JSON match the goldens`, async () => {
      const text = await run(["explain", app, "--select", "selection.yaml", "--quadlet", bin()]);
      expect(text.stderr).toBe("");
      expect(text.code).toBe(0);
      golden(`explain-${app}.txt`, norm(text.stdout));
      const json = await run(["explain", app, "--select", "selection.yaml", "--quadlet", bin(), "--json"]);
      expect(json.code).toBe(0);
      golden(`explain-${app}.json`, norm(json.stdout));
    });
  }

  it("argv equals what the test oracle reads from quadlet's own output, for every container", async () => {
    const j = JSON.parse((await run(["explain", "btc", "--select", "selection.yaml", "--quadlet", bin(), "--json"])).stdout);
    const root = mkdtempSync(join(tmpdir(), "archy-ux-oracle-"));
    try {
      const r = compile({ manifests: join(CATALOG, "manifests"), select: join(CATALOG, "selection.yaml"), secrets: new ReviewSecrets() });
      applyChanges(root, compareTree(r.files, new Map(), { modes: false }));
      const d = dryrun(join(root, "etc/containers/systemd"));
      expect(j.containers[0].argv).toEqual(canonicalArgv(oracleArgv(d.services.get("btc.service")!), "docker.io/example/bitcoind:28.0"));
      // %% and $$ come back as the single characters podman receives.
      expect(j.containers[0].argv.slice(-3)).toEqual(["bitcoind", "-conf=/etc/bitcoin/bitcoin.conf", "-uacomment=100% $HOME"]);
      expect(j.containers[0].argv).toContain("--sdnotify=healthy");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("without quadlet: says so clearly (stdout and stderr), still prints the rest, exit 0", async () => {
    const r = await run(["explain", "wallet", "--select", "selection.yaml", "--quadlet", "/nonexistent/quadlet"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("warning: quadlet not found at /nonexistent/quadlet: the podman argv cannot be shown (install Podman >= 4.4, pass --quadlet PATH or set QUADLET_BIN)\n");
    golden("explain-wallet-no-quadlet.txt", r.stdout);
    const j = await run(["explain", "wallet", "--select", "selection.yaml", "--quadlet", "/nonexistent/quadlet", "--json"]);
    const parsed = JSON.parse(j.stdout);
    expect(parsed.quadlet.status).toBe("missing");
    expect(parsed.containers.map((c: { argv: unknown }) => c.argv)).toEqual([null, null]);
    expect(parsed.dependencies.requires.map((d: { app: string }) => d.app)).toEqual(["btc", "indexer"]);
  });

  it("quadlet rejecting the units: its error is shown, the rest still printed, exit 3", async () => {
    const dir = mkdtempSync(join(tmpdir(), "archy-ux-fakeq-"));
    try {
      const fake = join(dir, "quadlet");
      writeFileSync(fake, `#!/bin/sh\necho 'quadlet-generator[42]: converting "wallet.container": unsupported key Frobnicate' >&2\nexit 1\n`, { mode: 0o755 });
      const r = await run(["explain", "wallet", "--select", "selection.yaml", "--quadlet", fake]);
      expect(r.code).toBe(3);
      expect(r.stdout).toContain('note: quadlet -dryrun exited 1:\nconverting "wallet.container": unsupported key Frobnicate\n');
      expect(r.stdout).toContain("    podman run: unavailable (quadlet failed)");
      expect(r.stdout).toContain("Restarts when");
      expect(r.stderr).toContain("warning: quadlet -dryrun exited 1");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an unknown app, or one outside the selection, is invalid input (exit 2)", async () => {
    const r = await run(["explain", "nope", "--select", "selection.yaml", "--quadlet", bin()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: no app "nope" in the selection selection.yaml (known: btc, dashboard, indexer, wallet)\n');
    const alt = await run(["explain", "btc-alt", "--select", "selection.yaml", "--quadlet", bin()]);
    expect(alt.code).toBe(2);
    const catalog = await run(["explain", "btc-alt", "--quadlet", bin(), "--json"]);
    expect(catalog.code).toBe(0);
    expect(JSON.parse(catalog.stdout).dependencies.requiredBy).toEqual([]);
  });

  it("prints a value with characters outside the BMP as written (split by code point, not UTF-16 unit)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "archy-ux-emoji-"));
    try {
      writeFileSync(
        join(dir, "greeter.yaml"),
        'id: greeter\nname: Greeter\nversion: "1.0.0"\nkind: service\ndescription: Says hi.\ncontainers:\n  greeter:\n    image: docker.io/library/busybox:1.36\n    environment: { GREETING: "hi 😀" }\n',
      );
      const r = await cli(["explain", "greeter", "--manifests", dir, "--quadlet", bin()]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("--env 'GREETING=hi 😀'");
      expect(r.stdout).not.toContain("\uFFFD");
      const j = JSON.parse((await cli(["explain", "greeter", "--manifests", dir, "--quadlet", bin(), "--json"])).stdout);
      expect(j.containers[0].argv).toContain("GREETING=hi 😀");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the catalog's bitcoin-knots explains (smoke test on manifests/)", async () => {
    const r = await cli(["explain", "bitcoin-knots", "--manifests", join(REPO, "manifests"), "--quadlet", bin(), "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.quadlet.status).toBe("ok");
    expect(j.containers[0].argv.slice(0, 2)).toEqual(["/usr/bin/podman", "run"]);
    expect(j.containers[0].argv).toContain("--sdnotify=healthy");
  });
});

describe("ExecStart= to argv", () => {
  it("systemd quoting, C escapes, %% and $$; specifiers and $VAR stay for systemd", () => {
    expect(execArgv(`/usr/bin/podman run --name x "a b" 'c "d"' e\\x41\\tf 100%% $$HOME --cidfile=%t/%N.cid $VAR`)).toEqual([
      "/usr/bin/podman", "run", "--name", "x", "a b", 'c "d"', "eA\tf", "100%", "$HOME", "--cidfile=%t/%N.cid", "$VAR",
    ]);
    expect(execArgv("-/usr/bin/true x")).toEqual(["/usr/bin/true", "x"]);
    expect(() => execArgv('a "unterminated')).toThrow(/unterminated/);
    expect(execArgv("/bin/echo 'hi 😀' \\U0001F600")).toEqual(["/bin/echo", "hi 😀", "😀"]);
    expect(() => execArgv("/bin/echo a ; /bin/rm b")).toThrow(/bare ';'/);
    expect(() => execArgv("/bin/echo a\0b")).toThrow(/NUL/);
  });
  it("splits quadlet -dryrun output into services", () => {
    const m = readDryRun({ code: 0, stdout: "---a.service---\n[Service]\nExecStart=/x\n\n---b.service---\nB\n", stderr: "quadlet-generator[1]: Loading source unit file x\nquadlet-generator[1]: converting \"b.container\": bad\n" });
    expect([...m.services.keys()]).toEqual(["a.service", "b.service"]);
    expect(m.errors).toEqual(['converting "b.container": bad']);
  });
  it("canonical option order: sorted by flag, repeated flags in their order, image and command untouched", () => {
    expect(canonicalArgv(["p", "run", "--z", "1", "-v", "b", "--a=1", "-v", "a", "--rm", "img", "-z", "x"], "img")).toEqual(["p", "run", "--a=1", "--rm", "--z", "1", "-v", "b", "-v", "a", "img", "-z", "x"]);
  });
  it("formats an argv as a copy-pasteable command, image and command last", () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(formatArgv(["/usr/bin/podman", "run", "--name", "x", "-d", "img:1", "sh", "-c", "echo hi"], "img:1", "")).toBe(
      "/usr/bin/podman run \\\n  --name x \\\n  -d \\\n  img:1 sh -c 'echo hi'",
    );
  });
});
