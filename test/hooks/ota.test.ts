import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createServer as createHttp, type Server } from "node:http";
import { createServer as createHttps } from "node:https";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { applyFixture, makeEnv } from "./helpers.js";
import { prepare, verify, readMarker } from "../../src/hooks/ota.js";
import { otaConfigSchema, loadOtaConfig, type OtaConfig } from "../../src/hooks/config.js";
import { currentId, readMeta, statePaths } from "../../src/apply/state.js";
import { UserError } from "../../src/manifest/diagnostics.js";

type Mode = "200" | "500" | "hang";
let mode: Mode = "200";
const servers: Server[] = [];

function handler(_req: unknown, res: { statusCode: number; end: (s: string) => void }) {
  if (mode === "hang") return; // never answers
  res.statusCode = mode === "200" ? 200 : 500;
  res.end(mode);
}

async function listen(s: Server): Promise<number> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return (s.address() as AddressInfo).port;
}

let httpUrl = "";
let httpsUrl = "";

beforeAll(async () => {
  httpUrl = `http://127.0.0.1:${await listen(createHttp(handler as never))}/`;
  // A self-signed certificate, like the node's own nginx serves on loopback.
  const dir = mkdtempSync(join(tmpdir(), "archy-tls-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=archy.local", "-days", "1", "-keyout", join(dir, "k.pem"), "-out", join(dir, "c.pem")], { stdio: "ignore" });
  httpsUrl = `https://127.0.0.1:${await listen(createHttps({ key: readFileSync(join(dir, "k.pem")), cert: readFileSync(join(dir, "c.pem")) }, handler as never))}/`;
  return () => servers.forEach((s) => s.close());
});

const cleanups: (() => void)[] = [];
afterEach(() => {
  cleanups.splice(0).forEach((c) => c());
  mode = "200";
});

function cfg(over: Partial<OtaConfig> = {}): OtaConfig {
  return { ...otaConfigSchema.parse({}), probe: { url: httpUrl, expect_status: 200, request_timeout: 300 }, window: 1200, retry_interval: 100, ...over };
}

/** Node with generation 1 (A) and 2 (B, the "new release"), marker armed at A. */
async function nodeAfterUpdate(rules: Parameters<typeof makeEnv>[0] = []) {
  const t = makeEnv(rules);
  cleanups.push(t.cleanup);
  await applyFixture(t.env, "a");
  prepare(t.env, "2026.11.2");
  await applyFixture(t.env, "b");
  t.adapter.calls.length = 0;
  return t;
}

describe("ota verify", () => {
  it("a release verified good ends the superseded image it pulled (by ID); before that, while pending, nothing is removed", async () => {
    const id = (ref: string) => `sha256:${ref.replace(/\W/g, "")}`;
    const t = await nodeAfterUpdate([
      (c) => (c.cmd === "podman" && c.args[0] === "image" && c.args[1] === "exists" && c.args[2]!.startsWith("docker.io/library/nginx") ? { code: 1, stdout: "", stderr: "" } : undefined),
      (c) => (c.cmd === "podman" && c.args[0] === "image" && c.args[1] === "inspect" ? { code: 0, stdout: `${id(c.args.at(-1)!)}\n`, stderr: "" } : undefined),
    ]);
    // Both nginx tags were pulled and recorded; the pending apply removed nothing.
    const record = JSON.parse(readFileSync(join(statePaths(t.root).state, "images.json"), "utf8")) as { images: { ref: string }[] };
    expect(record.images.map((e) => e.ref)).toEqual(["docker.io/library/nginx:1.27-alpine", "docker.io/library/nginx:1.28-alpine"]);
    // Keep only the current generation, so A's image is referenced by none.
    const inputs = JSON.parse(readFileSync(statePaths(t.root).inputs, "utf8")) as Record<string, unknown>;
    writeFileSync(statePaths(t.root).inputs, JSON.stringify({ ...inputs, keep: 1 }));
    expect(await verify(t.env, cfg())).toBe("ok");
    expect(t.adapter.calls.filter((c) => c.cmd === "podman" && c.args[0] === "rmi")).toEqual([{ cmd: "podman", args: ["rmi", id("docker.io/library/nginx:1.27-alpine")] }]);
    expect(t.lines).toContain(`cleanup: removed image docker.io/library/nginx:1.27-alpine (${id("docker.io/library/nginx:1.27-alpine").slice(0, 12)}), no kept generation uses it`);
  });

  it("marks a healthy release good (self-signed HTTPS on loopback accepted)", async () => {
    const t = await nodeAfterUpdate();
    expect(readMeta(t.root, 2)?.state).toBe("pending");
    const code = await verify(t.env, cfg({ probe: { url: httpsUrl, expect_status: 200, request_timeout: 1000 } }));
    expect(code).toBe("ok");
    expect(readMarker(t.root).kind).toBe("none");
    expect(readMeta(t.root, 2)?.state).toBe("good");
    expect(currentId(t.root)).toBe(2);
    expect(t.adapter.calls).toEqual([]);
    expect(t.lines.some((l) => /verified good/.test(l))).toBe(true);
  });

  it("rolls back on 500 and runs the restore commands, restarting what differs", async () => {
    const t = await nodeAfterUpdate();
    mode = "500";
    const c = cfg({ restore_commands: [["mv", "/srv/web-ui.bak", "/srv/web-ui"]] });
    // The restore fixes the probe target, as putting web-ui.bak back does in the field.
    const restore = t.adapter.run.bind(t.adapter);
    t.adapter.run = async (cmd, args, o) => {
      if (cmd === "mv") mode = "200";
      return restore(cmd, args, o);
    };
    const code = await verify(t.env, c);
    expect(code).toBe("rolled-back");
    expect(currentId(t.root)).toBe(1);
    expect(readMeta(t.root, 2)?.state).toBe("failed");
    expect(readMeta(t.root, 2)?.note).toMatch(/answered 500/);
    // The rollback target's images are on disk (the fake's podman image exists answers 0): checked, nothing pulled.
    expect(t.adapter.calls).toEqual([
      { cmd: "podman", args: ["image", "exists", "docker.io/library/nginx:1.27-alpine"] },
      { cmd: "podman", args: ["image", "exists", "docker.io/library/postgres:16.4-alpine"] },
      { cmd: "systemctl", args: ["daemon-reload"] },
      { cmd: "systemctl", args: ["restart", "web.service"] },
      { cmd: "mv", args: ["/srv/web-ui.bak", "/srv/web-ui"] },
    ]);
    const history = readFileSync(join(statePaths(t.root).ota, "history.jsonl"), "utf8");
    expect(history).toMatch(/"result":"rolled back".*answered 500/);
    expect(readMarker(t.root).kind).toBe("none");
  });

  it("rolls back at the deadline when the probe target hangs", async () => {
    const t = await nodeAfterUpdate();
    mode = "hang";
    const started = Date.now();
    const code = await verify(t.env, cfg({ window: 800 }));
    // Hangs during the first window and after the rollback: manual intervention, but exactly one rollback.
    expect(code).toBe("manual");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(currentId(t.root)).toBe(1);
    expect(t.lines.some((l) => /did not answer within/.test(l))).toBe(true);
  });

  it("does not loop: a second failing verify after a rollback changes nothing", async () => {
    const t = await nodeAfterUpdate();
    mode = "500";
    expect(await verify(t.env, cfg())).toBe("manual");
    expect(currentId(t.root)).toBe(1);
    const m = readMarker(t.root);
    expect(m.kind === "ok" && m.marker.rolledBack).toBe(true);
    t.adapter.calls.length = 0;
    const before = readFileSync(join(statePaths(t.root).state, "current").replace(/current$/, "generations/1/meta.json"), "utf8");
    expect(await verify(t.env, cfg())).toBe("manual");
    expect(currentId(t.root)).toBe(1);
    expect(t.adapter.calls).toEqual([]);
    expect(readFileSync(join(statePaths(t.root).gens, "1", "meta.json"), "utf8")).toBe(before);
    expect(t.lines.at(-1)).toMatch(/manual intervention needed/);
  });

  it("asks for manual intervention when there is nothing to roll back to", async () => {
    const t = makeEnv();
    cleanups.push(t.cleanup);
    await applyFixture(t.env, "a");
    prepare(t.env, "first");
    t.adapter.calls.length = 0;
    mode = "500";
    expect(await verify(t.env, cfg())).toBe("manual");
    expect(currentId(t.root)).toBe(1);
    expect(t.adapter.calls).toEqual([]);
    expect(t.lines.join("\n")).toMatch(/nothing to roll back to: manual intervention needed/);
  });

  it("treats a corrupt marker as a failed verification, never a crash, and rolls back once", async () => {
    const t = await nodeAfterUpdate();
    writeFileSync(join(statePaths(t.root).ota, "pending.json"), "{not json");
    t.lines.length = 0;
    const code = await verify(t.env, cfg());
    expect(code).toBe("rolled-back");
    expect(currentId(t.root)).toBe(1);
    expect(t.lines[0]).toMatch(/marker .* is not a valid marker.*treating it as a failed verification/);
  });

  it("with no marker does nothing", async () => {
    const t = makeEnv();
    cleanups.push(t.cleanup);
    expect(await verify(t.env, cfg())).toBe("ok");
    expect(t.lines).toEqual(["ota: no pending verification"]);
  });

  it("a refused connection is retried until the deadline", async () => {
    const t = await nodeAfterUpdate();
    const code = await verify(t.env, cfg({ probe: { url: "http://127.0.0.1:9/", expect_status: 200, request_timeout: 200 }, window: 500 }));
    expect(code).toBe("manual");
    expect(t.lines.filter((l) => /ECONNREFUSED/.test(l)).length).toBeGreaterThan(2);
  });

  it("check_services: a container without a health check counts as healthy when its service is active (podman's nil .State.Health)", async () => {
    // podman 5.4: the bare template fails on a container without a health check.
    const t = await nodeAfterUpdate([
      (c) =>
        c.cmd === "podman" && c.args[0] === "inspect"
          ? c.args[2] === "{{.State.Health.Status}}"
            ? { code: 125, stdout: "", stderr: 'Error: template: inspect:1:19: executing "inspect" at <.State.Health.Status>: nil pointer evaluating *define.HealthCheckResults.Status' }
            : { code: 0, stdout: "\n", stderr: "" }
          : c.args[0] === "is-active"
            ? { code: 0, stdout: "active\n", stderr: "" }
            : undefined,
    ]);
    const code = await verify(t.env, cfg({ check_services: true }));
    expect(code, t.lines.join("\n")).toBe("ok");
    expect(t.lines.join("\n")).toMatch(/services active and healthy/);
  });

  it("checks services when configured", async () => {
    const t = await nodeAfterUpdate([(c) => (c.args[0] === "is-active" ? { code: 3, stdout: "failed\n", stderr: "" } : undefined)]);
    const code = await verify(t.env, cfg({ check_services: true, window: 300 }));
    expect(code).toBe("manual");
    expect(t.lines.join("\n")).toMatch(/db.service is failed/);
  });
});

describe("ota config", () => {
  it("has documented defaults", () => {
    const t = makeEnv();
    cleanups.push(t.cleanup);
    const c = loadOtaConfig(t.root);
    expect(c).toEqual({ probe: { url: "https://127.0.0.1/", expect_status: 200, request_timeout: 5000 }, window: 90_000, retry_interval: 3000, check_services: false, restore_commands: [] });
  });

  it("rejects unknown keys with a position", () => {
    const t = makeEnv();
    cleanups.push(t.cleanup);
    const f = join(t.root, "ota.yaml");
    writeFileSync(f, "window: 30s\nprobe:\n  urll: x\n");
    expect(() => loadOtaConfig(t.root, f)).toThrow(UserError);
    try {
      loadOtaConfig(t.root, f);
    } catch (e) {
      expect((e as UserError).diagnostics[0]).toMatchObject({ line: 3, col: 3, path: "probe.urll" });
    }
    expect(existsSync(f)).toBe(true);
  });
});
